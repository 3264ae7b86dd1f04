/**
 * The least any Node router does for a query that is one fetch: read the client's body, send its query and variables
 * to the subgraph over a keep-alive pool with an assertion signed once, parse the answer and send its data back. No
 * limits, no validation, no metrics, no tracing: a benchmark target (bench/router.ts), the ceiling for a router
 * written for Node on this machine, never something to serve from.
 *
 * Env: PORT, SUBGRAPH_URL, ASSERTION_HEADER, ASSERTION.
 */
import { Buffer } from 'node:buffer';
import { Agent, createServer, request } from 'node:http';

const { PORT, SUBGRAPH_URL, ASSERTION_HEADER, ASSERTION } = process.env;
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

const readAll = (stream, done) => {
  const chunks = [];
  stream.on('data', (chunk) => chunks.push(chunk));
  stream.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
};

createServer((incoming, outgoing) => {
  const fail = () => outgoing.writeHead(502).end();
  readAll(incoming, (text) => {
    const { query, variables } = JSON.parse(text);
    const body = JSON.stringify({ query, variables });
    const headers = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      [ASSERTION_HEADER]: ASSERTION,
    };
    const fetch = request(SUBGRAPH_URL, { method: 'POST', agent, headers }, (answer) =>
      readAll(answer, (answerText) => {
        const json = `${JSON.stringify({ data: JSON.parse(answerText).data })}\n`;
        outgoing.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
        outgoing.end(json);
      }),
    );
    fetch.on('error', fail);
    fetch.end(body);
  });
}).listen(Number(PORT), '127.0.0.1');

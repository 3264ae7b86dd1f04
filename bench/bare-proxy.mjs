/**
 * A reference for the router's one-fetch path: node:http in, node:http out, nothing between. It reads the client's
 * body, sends its query and variables to the subgraph over a keep-alive pool with an assertion signed once, and sends
 * back the subgraph's data, errors and status. No limits, no document lookup or validation, no metrics, no tracing:
 * a benchmark target (bench/router.ts) for what a router on node:http can reach on this machine beside the subgraph
 * it fronts, never something to serve from.
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

const answer = (outgoing, status, body) => {
  if (outgoing.headersSent) return outgoing.destroy();
  const json = `${JSON.stringify(body)}\n`;
  outgoing.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
  outgoing.end(json);
};

// What failed is answered as an error, counted by the benchmark, rather than ending the process and the run with it.
const failed = (outgoing, status, error) => answer(outgoing, status, { errors: [{ message: String(error?.message ?? error) }] });

createServer((incoming, outgoing) => {
  incoming.on('error', (error) => failed(outgoing, 400, error));
  readAll(incoming, (text) => {
    let body;
    try {
      const { query, variables } = JSON.parse(text);
      body = JSON.stringify({ query, variables });
    } catch (error) {
      return failed(outgoing, 400, error);
    }
    const headers = {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      [ASSERTION_HEADER]: ASSERTION,
    };
    const subgraphRequest = request(SUBGRAPH_URL, { method: 'POST', agent, headers }, (subgraphAnswer) => {
      subgraphAnswer.on('error', (error) => failed(outgoing, 502, error));
      readAll(subgraphAnswer, (answerText) => {
        try {
          const { data, errors } = JSON.parse(answerText);
          answer(outgoing, subgraphAnswer.statusCode ?? 502, errors ? { data, errors } : { data });
        } catch (error) {
          failed(outgoing, 502, error);
        }
      });
    });
    subgraphRequest.on('error', (error) => failed(outgoing, 502, error));
    subgraphRequest.end(body);
  });
}).listen(Number(PORT), '127.0.0.1');

import {
  type Attributes,
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { RequestHandler } from 'express';

import { correlationIdOf } from '../identity/request-scope.js';

/**
 * Distributed tracing with OpenTelemetry. Code here only uses the API, which does nothing until a provider is
 * registered: `startTracing` registers one that exports over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set (tests
 * register their own, with an in-memory exporter). The W3C trace context travels in HTTP headers, in the events an
 * outbox stores (`EventEnvelope.traceContext`) and in RabbitMQ message headers.
 */
export const tracer = trace.getTracer('twtr');

/** W3C trace context as plain strings (traceparent, tracestate), for message headers and stored events. */
export type TraceCarrier = Record<string, string>;

/** Registers the OTLP exporter for this process when OTEL_EXPORTER_OTLP_ENDPOINT is set; returns how to flush it. */
export function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): () => Promise<void> {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT) return async () => {};
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: env.OTEL_SERVICE_NAME ?? `twtr-${serviceName}` }),
    // The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (and _HEADERS, _TIMEOUT) itself.
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  // Also sets the AsyncLocalStorage context manager and the W3C trace-context propagator.
  provider.register();
  return () => provider.shutdown();
}

/** The current trace context, to send along; undefined when there is none to send (tracing off). */
export function currentTraceCarrier(): TraceCarrier | undefined {
  const carrier: TraceCarrier = {};
  propagation.inject(context.active(), carrier);
  return Object.keys(carrier).length ? carrier : undefined;
}

/** The context a carrier (message headers, a stored event, HTTP headers) continues. */
export const contextFrom = (carrier: Record<string, unknown> | undefined): Context =>
  propagation.extract(ROOT_CONTEXT, carrier ?? {});

/**
 * Runs `work` in a new active span (a child of `parent`, or of the active span), recording a throw as the span's
 * error; the span ends when the work does.
 */
export function inSpan<T>(
  name: string,
  options: { kind?: SpanKind; attributes?: Attributes; parent?: Context },
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = options.parent ?? context.active();
  const span = tracer.startSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes }, parent);
  return context.with(trace.setSpan(parent, span), async () => {
    try {
      return await work(span);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * One server span per HTTP request, continuing the caller's trace context (traceparent header). Mounted after the
 * body is read, so everything that handles the request runs inside the span's context.
 */
export function traceHttpRequests(service: string): RequestHandler {
  return (request, response, next) => {
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const span = tracer.startSpan(
      // Node's own request has neither (the router's graphql-lane.ts): its URL is the path it serves.
      `${request.method} ${request.baseUrl || request.path || request.url}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'twtr.service': service,
          'http.request.method': request.method,
          // Set by correlateRequests: finds a trace from a log line or an event, and back.
          'twtr.correlation_id': correlationIdOf(response),
        },
      },
      parent,
    );
    response.once('close', () => {
      span.setAttribute('http.response.status_code', response.statusCode);
      if (response.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.with(trace.setSpan(parent, span), next);
  };
}

export { SpanKind };

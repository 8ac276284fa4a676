package tracing

import (
	"context"
	"slices"

	"github.com/go-kit/kit/endpoint"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// EndpointMiddleware makes a span named name around every call of a go-kit endpoint. A transport
// failure marks the span as an error; a business failure (a response that is an endpoint.Failer,
// such as a student not found) is recorded as the attribute "endpoint.failure" and leaves the
// span's status alone, as it leaves circuit breakers alone.
func EndpointMiddleware(tracer trace.Tracer, name string) endpoint.Middleware {
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, request any) (any, error) {
			ctx, span := tracer.Start(ctx, name)
			defer span.End()
			response, err := next(ctx, request)
			switch {
			case err != nil:
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			default:
				if f, ok := response.(endpoint.Failer); ok && f.Failed() != nil {
					span.SetAttributes(attribute.String("endpoint.failure", f.Failed().Error()))
				}
			}
			return response, err
		}
	}
}

// Span starts a span named name as a child of ctx's, for an operation of the service's own (a
// store call); end it with End, passing the operation's error.
//
// Where no span would be started (a parent that is not sampled, under a parent-based sampler),
// it returns at once, before building the span's options: a store operation under every
// unsampled request would otherwise pay for them. attrs are copied when used, so that a caller's
// arguments need not live on the heap.
func Span(ctx context.Context, tracer trace.Tracer, name string, attrs ...attribute.KeyValue) (context.Context, func(error)) {
	if u, ok := tracer.(unsampledChildren); ok && u.skips(ctx) {
		return ctx, endNothing
	}
	ctx, span := tracer.Start(ctx, name, trace.WithAttributes(slices.Clone(attrs)...))
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// endNothing ends a span that was never started.
func endNothing(error) {}

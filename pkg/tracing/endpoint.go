package tracing

import (
	"context"

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
func Span(ctx context.Context, tracer trace.Tracer, name string, attrs ...attribute.KeyValue) (context.Context, func(error)) {
	ctx, span := tracer.Start(ctx, name, trace.WithAttributes(attrs...))
	return ctx, func(err error) {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

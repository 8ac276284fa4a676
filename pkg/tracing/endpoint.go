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

// Operation is a kind of span of the service's own (a store call), named and given its
// attributes once, when the service is built, rather than on every call: the name and the start
// option of its attributes are shared by every span of the kind.
type Operation struct {
	name  string
	start []trace.SpanStartOption
}

// NewOperation returns the operation whose spans are named name and carry attrs.
func NewOperation(name string, attrs ...attribute.KeyValue) Operation {
	o := Operation{name: name}
	if len(attrs) > 0 {
		o.start = []trace.SpanStartOption{trace.WithAttributes(slices.Clone(attrs)...)}
	}
	return o
}

// Name is the name of the operation's spans.
func (o Operation) Name() string { return o.name }

// Start starts a span of the operation as a child of ctx's; end it with End, passing the
// operation's error.
//
// Where no span would be started (a parent that is not sampled, under a parent-based sampler),
// it returns ctx and its own non-recording span at once, on which End does nothing.
func (o Operation) Start(ctx context.Context, tracer trace.Tracer) (context.Context, trace.Span) {
	if u, ok := tracer.(unsampledChildren); ok && u.skips(ctx) {
		return ctx, trace.SpanFromContext(ctx)
	}
	return tracer.Start(ctx, o.name, o.start...)
}

// End ends span, an operation's, marking it as an error when err is not nil.
func End(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

package grpcx

import (
	"context"
	"fmt"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the codec wireCodec wraps
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/httpx"
	"github.com/gradebook/gradebook/pkg/requestid"
)

// Metadata keys: the request ID travels both ways (the server echoes it in its header), and the
// token goes with every call as "authorization: Bearer <token>".
const (
	RequestIDMetadata     = "x-request-id"
	AuthorizationMetadata = "authorization"
)

// protoCodecName names grpc-go's protobuf codec, which wireCodec wraps.
const protoCodecName = "proto"

// MaxRequest bounds a request message, as httpx.MaxBody bounds an HTTP body.
const MaxRequest = httpx.MaxBody

// MaxResponse bounds a response message a client accepts, so that a confused or hostile peer
// cannot exhaust the caller's memory.
const MaxResponse = 32 << 20

// ServerOptions are what every gradebook gRPC server runs with: the request and response
// limits, the connection bounds (Enforcement, ServerKeepalive, MaxConcurrentStreams,
// HandshakeTimeout), StreamWorkers goroutines to run calls on, the codec that
// InvalidArgumentOnDecode needs, and interceptors that recover panics, keep or make the request
// ID (echoed in the response header), log each call, and refuse the methods in writes (full
// method names) without token when it is set.
func ServerOptions(token string, logger log.Logger, writes ...string) []grpc.ServerOption {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxRequest),
		grpc.MaxSendMsgSize(MaxResponse),
		grpc.KeepaliveEnforcementPolicy(Enforcement()),
		grpc.KeepaliveParams(ServerKeepalive()),
		grpc.MaxConcurrentStreams(MaxConcurrentStreams),
		grpc.ConnectionTimeout(HandshakeTimeout),
		grpc.NumStreamWorkers(StreamWorkers),
		grpc.ForceServerCodecV2(wireCodec{encoding.GetCodecV2(protoCodecName)}),
		grpc.ChainUnaryInterceptor(Recover(logger), RequestIDs, AccessLog(logger), RequireToken(token, writes...)),
	}
}

// Recover turns a panic in a handler into INTERNAL instead of a dropped connection, and logs it.
func Recover(logger log.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if v := recover(); v != nil {
				log.With(level.Error(logger), requestid.LogFields(ctx)...).Log("msg", "gRPC handler panicked", "method", info.FullMethod, "panic", fmt.Sprint(v))
				resp, err = nil, status.Error(codes.Internal, "internal error")
			}
		}()
		return next(ctx, req)
	}
}

// RequestIDs is httpx.WithRequestIDs for gRPC: the caller's x-request-id is kept (or one is
// made), put in the context for logs and downstream calls, and sent back in the header.
func RequestIDs(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	id := firstMetadata(ctx, RequestIDMetadata)
	if !requestid.Valid(id) {
		id = requestid.New()
	}
	// SetHeader only fails when the header was already sent, which nothing has done yet.
	_ = grpc.SetHeader(ctx, metadata.Pairs(RequestIDMetadata, id))
	// On the call's server span, when it is traced, under the key HTTP server spans use. Only
	// then: the attribute would be made (and its slice allocated) for a no-op span too.
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(attribute.String("request.id", id))
	}
	return next(requestid.NewContext(ctx, id), req)
}

// AccessLog logs every call with its code and duration; health checks that pass only at debug.
func AccessLog(logger log.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		begin := time.Now()
		resp, err := next(ctx, req)
		code := status.Code(err)
		lg := level.Info(logger)
		switch {
		case IsServerFailure(code):
			lg = level.Error(logger)
		case strings.HasPrefix(info.FullMethod, "/grpc.health.v1.") && code == codes.OK:
			lg = level.Debug(logger)
		}
		log.With(lg, requestid.LogFields(ctx)...).Log("msg", "request", "rpc", info.FullMethod, "code", code.String(),
			"took", time.Since(begin).Round(time.Microsecond))
		return resp, err
	}
}

// RequireToken is httpx.RequireTokenForWrites for gRPC: the methods in writes need
// "authorization: Bearer <token>" when token is set; other methods never do.
func RequireToken(token string, writes ...string) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		if token == "" || !slices.Contains(writes, info.FullMethod) {
			return next(ctx, req)
		}
		switch got := httpx.ParseBearer(firstMetadata(ctx, AuthorizationMetadata)); {
		case got == "":
			return nil, status.Error(codes.Unauthenticated, "this write needs a token: send authorization: Bearer <token>")
		case !httpx.TokenMatches(got, token):
			return nil, status.Error(codes.Unauthenticated, "the token is not valid")
		}
		return next(ctx, req)
	}
}

func firstMetadata(ctx context.Context, key string) string {
	if v := metadata.ValueFromIncomingContext(ctx, key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// InvalidArgumentOnDecode returns a copy of desc whose methods answer a request that does not
// decode (bad wire bytes, a string that is not UTF-8) with INVALID_ARGUMENT, the caller's
// mistake, instead of grpc-go's INTERNAL, which would count against the instance. The server
// must run with ServerOptions, whose codec hands each request over as its raw bytes.
//
// Why a codec: grpc-go decodes a unary request inside ServerStream.RecvMsg, and when that fails
// it writes the INTERNAL status to the client itself, before the handler (or any interceptor)
// can answer otherwise. So the server's codec never fails (it keeps the bytes, wireMessage), and
// the copy's handlers unmarshal them and answer a failure themselves. ForceServerCodecV2 is
// marked experimental in grpc-go; TestBadInput in each gRPC transport catches a change.
func InvalidArgumentOnDecode(desc grpc.ServiceDesc) *grpc.ServiceDesc {
	desc.Methods = slices.Clone(desc.Methods)
	for i := range desc.Methods {
		handler := desc.Methods[i].Handler
		desc.Methods[i].Handler = func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			return handler(srv, ctx, func(m any) error {
				var wire wireMessage
				if err := dec(&wire); err != nil {
					return err
				}
				msg, ok := m.(proto.Message)
				if !ok {
					return status.Errorf(codes.Internal, "%T is not a protobuf message", m)
				}
				if err := proto.Unmarshal(wire, msg); err != nil {
					// protobuf refuses a string field that is not UTF-8 without naming it;
					// the answer names it, as the HTTP API's does, as a field error.
					if !utf8.Valid(wire) {
						if field, ok := InvalidUTF8Field(wire, msg.ProtoReflect().Descriptor()); ok {
							return StatusOf(errs.FieldErrors{field: "must be valid UTF-8 text"}).Err()
						}
					}
					return status.Error(codes.InvalidArgument, "invalid request: "+err.Error())
				}
				return nil
			}, icpt)
		}
	}
	return &desc
}

// wireMessage is a request's bytes as they came off the wire.
type wireMessage []byte

// wireCodec is grpc-go's protobuf codec, except that it hands a *wireMessage its raw bytes,
// which never fails; see InvalidArgumentOnDecode. Every other message (responses, and requests
// of services registered without InvalidArgumentOnDecode, such as grpc.health.v1) goes through
// the protobuf codec as usual.
type wireCodec struct{ encoding.CodecV2 }

func (c wireCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if w, ok := v.(*wireMessage); ok {
		*w = data.Materialize()
		return nil
	}
	return c.CodecV2.Unmarshal(data, v)
}

package grpcx

import (
	"context"
	"fmt"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"slices"
	"strings"
	"sync"
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
// InvalidArgumentOnDecode needs, and Interceptor.
func ServerOptions(token string, logger log.Logger, writes ...string) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxRequest),
		grpc.MaxSendMsgSize(MaxResponse),
		grpc.KeepaliveEnforcementPolicy(Enforcement()),
		grpc.KeepaliveParams(ServerKeepalive()),
		grpc.MaxConcurrentStreams(MaxConcurrentStreams),
		grpc.ConnectionTimeout(HandshakeTimeout),
		grpc.NumStreamWorkers(StreamWorkers),
		grpc.ForceServerCodecV2(wireCodec{encoding.GetCodecV2(protoCodecName)}),
		grpc.ChainUnaryInterceptor(Interceptor(token, logger, writes...)),
	}
}

// Interceptor does for every unary call, in this order: it recovers a panic in the handler
// (logged, and answered INTERNAL instead of a dropped connection); keeps the caller's
// x-request-id or makes one, puts it in the context for logs and downstream calls and sends it
// back in the header, as httpx.WithRequestIDs does; refuses the methods in writes (full method
// names) without "authorization: Bearer <token>" when token is set, as
// httpx.RequireTokenForWrites does; and logs the call with its code and duration (health checks
// that pass only at debug).
//
// It is one interceptor rather than a chain of four because grpc-go builds a closure for every
// link of a chain on every call.
func Interceptor(token string, logger log.Logger, writes ...string) grpc.UnaryServerInterceptor {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	calls := newCallLog(logger)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if v := recover(); v != nil {
				log.With(level.Error(logger), requestid.LogFields(ctx)...).Log("msg", "gRPC handler panicked", "method", info.FullMethod, "panic", fmt.Sprint(v))
				resp, err = nil, status.Error(codes.Internal, "internal error")
			}
		}()
		ctx = withRequestID(ctx)
		begin := time.Now()
		if err = checkToken(ctx, info.FullMethod, token, writes); err == nil {
			resp, err = next(ctx, req)
		}
		calls.log(ctx, info.FullMethod, status.Code(err), begin)
		return resp, err
	}
}

// headerPool holds response headers of one request ID, which grpc.SetHeader copies (with
// metadata.Join) rather than keeps.
var headerPool = sync.Pool{New: func() any { return metadata.MD{RequestIDMetadata: make([]string, 1)} }}

// withRequestID answers ctx with the call's request ID, the caller's or a new one, which it
// also sends back in the response header.
func withRequestID(ctx context.Context) context.Context {
	id := firstMetadata(ctx, RequestIDMetadata)
	if !requestid.Valid(id) {
		id = requestid.New()
	}
	// SetHeader only fails when the header was already sent, which nothing has done yet. It
	// copies md into the stream's header (metadata.Join), so md goes back to its pool at once;
	// TestGRPCRequestIDBothWays would see an empty ID echoed if that changed.
	md := headerPool.Get().(metadata.MD)
	md[RequestIDMetadata][0] = id
	_ = grpc.SetHeader(ctx, md)
	md[RequestIDMetadata][0] = ""
	headerPool.Put(md)
	// On the call's server span, when it is traced, under the key HTTP server spans use. Only
	// then: the attribute would be made (and its slice allocated) for a no-op span too.
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.SetAttributes(attribute.String("request.id", id))
	}
	return requestid.NewContext(ctx, id)
}

// callLog writes each call's access line: at error for a failure on the server's side, at
// debug for a health check that passed, at info otherwise. Every call pays for its line, so, as
// the HTTP services' access log does, it is built with one slice and one Log call, on level
// loggers made once rather than per call, and nothing in it is formatted twice.
type callLog struct{ info, error, debug log.Logger }

func newCallLog(logger log.Logger) callLog {
	return callLog{level.Info(logger), level.Error(logger), level.Debug(logger)}
}

func (l callLog) log(ctx context.Context, method string, code codes.Code, begin time.Time) {
	lg := l.info
	switch {
	case IsServerFailure(code):
		lg = l.error
	case strings.HasPrefix(method, "/grpc.health.v1.") && code == codes.OK:
		lg = l.debug
	}
	// took is formatted here, once: as a time.Duration, the stderr line and the shipped entry
	// would each format it, and both write exactly this text.
	kv := requestid.AppendLogFields(make([]any, 0, 16), ctx)
	kv = append(kv, "msg", "request", "rpc", method, "code", code.String(),
		"took", time.Since(begin).Round(time.Microsecond).String())
	lg.Log(kv...)
}

// checkToken refuses method, when it is one of writes and token is set, unless the call carries
// "authorization: Bearer <token>"; other methods never need it.
func checkToken(ctx context.Context, method, token string, writes []string) error {
	if token == "" || !slices.Contains(writes, method) {
		return nil
	}
	switch got := httpx.ParseBearer(firstMetadata(ctx, AuthorizationMetadata)); {
	case got == "":
		return status.Error(codes.Unauthenticated, "this write needs a token: send authorization: Bearer <token>")
	case !httpx.TokenMatches(got, token):
		return status.Error(codes.Unauthenticated, "the token is not valid")
	}
	return nil
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
// must run with ServerOptions, whose codec decodes these requests without ever failing.
//
// Why a codec: grpc-go decodes a unary request inside ServerStream.RecvMsg, and when that fails
// it writes the INTERNAL status to the client itself, before the handler (or any interceptor)
// can answer otherwise. So the copy's handlers hand the codec a wireRequest, into whose message
// it decodes the bytes off the wire and whose err it sets instead of failing; the handlers answer
// that error themselves. ForceServerCodecV2 is marked experimental in grpc-go; TestBadInput in
// each gRPC transport catches a change.
func InvalidArgumentOnDecode(desc grpc.ServiceDesc) *grpc.ServiceDesc {
	desc.Methods = slices.Clone(desc.Methods)
	for i := range desc.Methods {
		handler := desc.Methods[i].Handler
		desc.Methods[i].Handler = func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			return handler(srv, ctx, func(m any) error {
				msg, ok := m.(proto.Message)
				if !ok {
					return status.Errorf(codes.Internal, "%T is not a protobuf message", m)
				}
				req := wireRequest{msg: msg}
				if err := dec(&req); err != nil {
					return err
				}
				return req.err
			}, icpt)
		}
	}
	return &desc
}

// wireRequest is a request message for wireCodec to decode, and the status of its failure to.
type wireRequest struct {
	msg proto.Message
	err error
}

// wireCodec is grpc-go's protobuf codec, except that it decodes a *wireRequest without ever
// failing (it sets the request's err instead); see InvalidArgumentOnDecode. Every other message
// (responses, and requests of services registered without InvalidArgumentOnDecode, such as
// grpc.health.v1) goes through the protobuf codec as usual.
type wireCodec struct{ encoding.CodecV2 }

func (c wireCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if r, ok := v.(*wireRequest); ok {
		r.err = unmarshalRequest(data, r.msg)
		return nil
	}
	return c.CodecV2.Unmarshal(data, v)
}

// unmarshalRequest decodes data into msg as grpc-go's codec does, in place when the request came
// in one buffer (protobuf copies the strings out), and answers a failure as INVALID_ARGUMENT.
func unmarshalRequest(data mem.BufferSlice, msg proto.Message) error {
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	wire := buf.ReadOnlyData()
	if err := proto.Unmarshal(wire, msg); err != nil {
		// protobuf refuses a string field that is not UTF-8 without naming it; the answer names
		// it, as the HTTP API's does, as a field error.
		if !utf8.Valid(wire) {
			if field, ok := InvalidUTF8Field(wire, msg.ProtoReflect().Descriptor()); ok {
				return StatusOf(errs.FieldErrors{field: "must be valid UTF-8 text"}).Err()
			}
		}
		return status.Error(codes.InvalidArgument, "invalid request: "+err.Error())
	}
	return nil
}

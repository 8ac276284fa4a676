package grpcx

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/gradebook/gradebook/pkg/requestid"
)

// Dial returns a connection to the instance at target ("host:port", as go-kit sd hands it out).
// It is insecure, as the HTTP transports are plain HTTP. Every call on it, unary or stream,
// carries the request ID of its context (for the server to keep, Interceptor, as
// httpx.SetRequestID does for an HTTP request) and, when token is set,
// "authorization: Bearer <token>". It pings an idle connection as ClientKeepalive says, which
// the servers' Enforcement allows, so that a peer gone without a word is noticed. The connection
// dials lazily, on the first call, and reconnects by itself; Close it when the instance is gone.
//
// The token goes in the call's metadata from an interceptor, with the request ID, rather than
// as per-RPC credentials: grpc-go asks credentials for a fresh map on every call and copies it
// into another, where one append to the outgoing metadata carries both values.
func Dial(target, token string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	md := outgoingMetadata{}
	if token != "" {
		md.bearer = "Bearer " + token
	}
	base := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithKeepaliveParams(ClientKeepalive()),
		// Every method a gradebook client calls is known when it is compiled (grpc.StaticMethod's
		// signal to stats plugins); as a default, no call needs its own option slice for it.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxResponse), grpc.MaxCallSendMsgSize(MaxRequest), grpc.StaticMethod()),
		grpc.WithChainUnaryInterceptor(md.unary),
		grpc.WithChainStreamInterceptor(md.stream),
	}
	// passthrough: sd has already resolved the instance; grpc-go's default would resolve it again.
	return grpc.NewClient("passthrough:///"+target, append(base, opts...)...)
}

// outgoingMetadata adds what every call sends to its outgoing metadata. bearer is the whole
// authorization value, "Bearer <token>", made once rather than on every call; empty without a
// token.
type outgoingMetadata struct{ bearer string }

func (o outgoingMetadata) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoke(o.add(ctx), method, req, reply, cc, opts...)
}

func (o outgoingMetadata) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return streamer(o.add(ctx), desc, cc, method, opts...)
}

// add answers ctx with the request ID it carries and the bearer value in its outgoing metadata,
// in a single append.
func (o outgoingMetadata) add(ctx context.Context) context.Context {
	id := requestid.FromContext(ctx)
	switch {
	case id != "" && o.bearer != "":
		return metadata.AppendToOutgoingContext(ctx, RequestIDMetadata, id, AuthorizationMetadata, o.bearer)
	case id != "":
		return metadata.AppendToOutgoingContext(ctx, RequestIDMetadata, id)
	case o.bearer != "":
		return metadata.AppendToOutgoingContext(ctx, AuthorizationMetadata, o.bearer)
	}
	return ctx
}

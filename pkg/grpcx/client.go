package grpcx

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/gradebook/gradebook/pkg/requestid"
)

// Dial returns a connection to the instance at target ("host:port", as go-kit sd hands it out).
// It is insecure, as the HTTP transports are plain HTTP, and sends token (when set) with every
// call as "authorization: Bearer <token>". It pings an idle connection as ClientKeepalive says,
// which the servers' Enforcement allows, so that a peer gone without a word is noticed. The
// connection dials lazily, on the first call, and
// reconnects by itself; Close it when the instance is gone.
func Dial(target, token string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	base := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithKeepaliveParams(ClientKeepalive()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxResponse), grpc.MaxCallSendMsgSize(MaxRequest)),
	}
	if token != "" {
		base = append(base, grpc.WithPerRPCCredentials(bearerCredentials("Bearer "+token)))
	}
	// passthrough: sd has already resolved the instance; grpc-go's default would resolve it again.
	return grpc.NewClient("passthrough:///"+target, append(base, opts...)...)
}

// bearerCredentials sends the shared token over a plain connection, as -token does over HTTP. It
// holds the whole header value, "Bearer <token>", made once rather than on every call.
type bearerCredentials string

func (b bearerCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{AuthorizationMetadata: string(b)}, nil
}

func (bearerCredentials) RequireTransportSecurity() bool { return false }

// SendRequestID answers ctx with the request ID it carries added to its outgoing metadata, for
// the server to keep (RequestIDs), as httpx.SetRequestID does for an HTTP request.
func SendRequestID(ctx context.Context) context.Context {
	if id := requestid.FromContext(ctx); id != "" {
		return metadata.AppendToOutgoingContext(ctx, RequestIDMetadata, id)
	}
	return ctx
}

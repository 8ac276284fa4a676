package grading

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	kitgrpc "github.com/go-kit/kit/transport/grpc"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the codec wireCodec wraps
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/gradebook/gradebook/grading/pb"
	"github.com/gradebook/gradebook/pkg/errs"
	"github.com/gradebook/gradebook/pkg/httpx"
)

// Metadata keys of the gRPC transport: the request ID travels both ways (the server echoes it in
// its header), the token goes with writes as "authorization: Bearer <token>".
const (
	RequestIDMetadata     = "x-request-id"
	AuthorizationMetadata = "authorization"
)

// MaxGRPCRequest bounds a request message, as the HTTP transport bounds a body to 1 MiB.
const MaxGRPCRequest = 1 << 20

// protoCodecName names grpc-go's protobuf codec, which wireCodec wraps.
const protoCodecName = "proto"

// grpcService is the full name of the gRPC service, as go-kit's client wants it.
var grpcService = pb.Grading_ServiceDesc.ServiceName

// grpcWrites are the methods that change data and so need the token.
var grpcWrites = []string{pb.Grading_AddStudent_FullMethodName, pb.Grading_AddGrade_FullMethodName}

// ---- server -------------------------------------------------------------------------------

// NewGRPCServer serves eps as the gRPC Grading service. Register it with RegisterGRPCServer on a
// server built with GRPCServerOptions, which add request IDs, the token check, panic recovery
// and an access log around it.
func NewGRPCServer(eps Endpoints, logger log.Logger) pb.GradingServer {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	opts := []kitgrpc.ServerOption{
		// Business errors are the caller's concern and already in the access log; only failures on
		// our side are worth a line of their own.
		kitgrpc.ServerErrorHandler(grpcErrorHandler{logger}),
	}
	return &grpcServer{
		list:       kitgrpc.NewServer(eps.ListStudentsEndpoint, decodeGRPCListStudentsRequest, encodeGRPCListStudentsResponse, opts...),
		get:        kitgrpc.NewServer(eps.GetStudentEndpoint, decodeGRPCGetStudentRequest, encodeGRPCGetStudentResponse, opts...),
		addStudent: kitgrpc.NewServer(eps.AddStudentEndpoint, decodeGRPCAddStudentRequest, encodeGRPCAddStudentResponse, opts...),
		addGrade:   kitgrpc.NewServer(eps.AddGradeEndpoint, decodeGRPCAddGradeRequest, encodeGRPCAddGradeResponse, opts...),
	}
}

type grpcServer struct {
	pb.UnimplementedGradingServer
	list, get, addStudent, addGrade kitgrpc.Handler
}

func (s *grpcServer) ListStudents(ctx context.Context, req *pb.ListStudentsRequest) (*pb.ListStudentsResponse, error) {
	return handleGRPC[*pb.ListStudentsResponse](ctx, s.list, req)
}

func (s *grpcServer) GetStudent(ctx context.Context, req *pb.GetStudentRequest) (*pb.GetStudentResponse, error) {
	return handleGRPC[*pb.GetStudentResponse](ctx, s.get, req)
}

func (s *grpcServer) AddStudent(ctx context.Context, req *pb.AddStudentRequest) (*pb.AddStudentResponse, error) {
	return handleGRPC[*pb.AddStudentResponse](ctx, s.addStudent, req)
}

func (s *grpcServer) AddGrade(ctx context.Context, req *pb.AddGradeRequest) (*pb.AddGradeResponse, error) {
	return handleGRPC[*pb.AddGradeResponse](ctx, s.addGrade, req)
}

func handleGRPC[T any](ctx context.Context, h kitgrpc.Handler, req any) (T, error) {
	var zero T
	_, resp, err := h.ServeGRPC(ctx, req)
	if err != nil {
		return zero, err
	}
	out, ok := resp.(T)
	if !ok {
		return zero, status.Errorf(codes.Internal, "grading: answered %T, want %T", resp, zero)
	}
	return out, nil
}

type grpcErrorHandler struct{ logger log.Logger }

func (h grpcErrorHandler) Handle(ctx context.Context, err error) {
	switch status.Code(err) {
	case codes.Internal, codes.Unknown, codes.DataLoss:
		level.Error(h.logger).Log("msg", "gRPC transport failed", "err", err, "request_id", httpx.RequestID(ctx))
	}
}

// RegisterGRPCServer registers srv on s, which must have been built with GRPCServerOptions.
// Unlike pb.RegisterGradingServer, a request that does not decode (bad wire bytes, a string that
// is not UTF-8) is answered INVALID_ARGUMENT, the caller's mistake, instead of grpc-go's
// INTERNAL, which would count against this instance: grpc-go answers a decoding failure itself
// before any handler or interceptor runs, so the server's codec hands each request over as its
// raw bytes (wireMessage) and the handler decodes them here.
func RegisterGRPCServer(s grpc.ServiceRegistrar, srv pb.GradingServer) {
	desc := pb.Grading_ServiceDesc
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
					return status.Errorf(codes.Internal, "grading: %T is not a protobuf message", m)
				}
				if err := proto.Unmarshal(wire, msg); err != nil {
					return status.Error(codes.InvalidArgument, "invalid request: "+err.Error())
				}
				return nil
			}, icpt)
		}
	}
	s.RegisterService(&desc, srv)
}

// wireMessage is a request's bytes as they came off the wire.
type wireMessage []byte

// wireCodec is grpc-go's protobuf codec, except that it hands a *wireMessage its raw bytes,
// which never fails; see RegisterGRPCServer.
type wireCodec struct{ encoding.CodecV2 }

func (c wireCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if w, ok := v.(*wireMessage); ok {
		*w = data.Materialize()
		return nil
	}
	return c.CodecV2.Unmarshal(data, v)
}

// GRPCServerOptions are what every grading gRPC server runs with: a 1 MiB request limit, and
// interceptors that recover panics, keep or make the request ID (echoed in the response header),
// log each call, and refuse writes without token (when it is set).
func GRPCServerOptions(token string, logger log.Logger) []grpc.ServerOption {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxGRPCRequest),
		grpc.ForceServerCodecV2(wireCodec{encoding.GetCodecV2(protoCodecName)}),
		grpc.MaxSendMsgSize(maxResponseBody),
		grpc.ChainUnaryInterceptor(recoverGRPC(logger), requestIDsGRPC, accessLogGRPC(logger), requireTokenGRPC(token)),
	}
}

func recoverGRPC(logger log.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if v := recover(); v != nil {
				level.Error(logger).Log("msg", "gRPC handler panicked", "method", info.FullMethod, "panic", fmt.Sprint(v), "request_id", httpx.RequestID(ctx))
				resp, err = nil, status.Error(codes.Internal, "internal error")
			}
		}()
		return next(ctx, req)
	}
}

// requestIDsGRPC is httpx.WithRequestIDs for gRPC: the caller's x-request-id is kept (or one is
// made), put in the context for logs and downstream calls, and sent back in the header.
func requestIDsGRPC(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	id := firstMetadata(ctx, RequestIDMetadata)
	if id == "" || len(id) > 128 || strings.ContainsAny(id, "\r\n") {
		id = httpx.NewRequestID()
	}
	// SetHeader only fails when the header was already sent, which nothing has done yet.
	_ = grpc.SetHeader(ctx, metadata.Pairs(RequestIDMetadata, id))
	return next(httpx.WithRequestID(ctx, id), req)
}

func accessLogGRPC(logger log.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		begin := time.Now()
		resp, err := next(ctx, req)
		code := status.Code(err)
		lg := level.Info(logger)
		switch {
		case isServerFailure(code):
			lg = level.Error(logger)
		case strings.HasPrefix(info.FullMethod, "/grpc.health.v1.") && code == codes.OK:
			lg = level.Debug(logger)
		}
		lg.Log("msg", "request", "rpc", info.FullMethod, "code", code.String(),
			"took", time.Since(begin).Round(time.Microsecond), "request_id", httpx.RequestID(ctx))
		return resp, err
	}
}

// requireTokenGRPC is httpx.RequireTokenForWrites for gRPC: AddStudent and AddGrade need
// "authorization: Bearer <token>" when token is set; reads never do.
func requireTokenGRPC(token string) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		if token == "" || !slices.Contains(grpcWrites, info.FullMethod) {
			return next(ctx, req)
		}
		got := firstMetadata(ctx, AuthorizationMetadata)
		if len(got) > 7 && strings.EqualFold(got[:7], "bearer ") {
			got = strings.TrimSpace(got[7:])
		} else {
			got = ""
		}
		switch {
		case got == "":
			return nil, status.Error(codes.Unauthenticated, "this write needs a token: send authorization: Bearer <token>")
		case subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1:
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

func decodeGRPCListStudentsRequest(context.Context, any) (any, error) {
	return ListStudentsRequest{}, nil
}

func decodeGRPCGetStudentRequest(_ context.Context, request any) (any, error) {
	req, ok := request.(*pb.GetStudentRequest)
	if !ok {
		return nil, status.Errorf(codes.Internal, "grading: GetStudent got %T", request)
	}
	return GetStudentRequest{ID: idFromPB(req.GetId())}, nil
}

func decodeGRPCAddStudentRequest(_ context.Context, request any) (any, error) {
	req, ok := request.(*pb.AddStudentRequest)
	if !ok {
		return nil, status.Errorf(codes.Internal, "grading: AddStudent got %T", request)
	}
	return AddStudentRequest{FirstName: req.GetFirstName(), LastName: req.GetLastName()}, nil
}

// decodeGRPCAddGradeRequest turns the message into the domain request. A missing grade is an
// empty one, which the service rejects field by field like any other invalid grade.
func decodeGRPCAddGradeRequest(_ context.Context, request any) (any, error) {
	req, ok := request.(*pb.AddGradeRequest)
	if !ok {
		return nil, status.Errorf(codes.Internal, "grading: AddGrade got %T", request)
	}
	return AddGradeRequest{
		StudentID:      idFromPB(req.GetStudentId()),
		Grade:          gradeFromPB(req.GetGrade()),
		IdempotencyKey: req.GetIdempotencyKey(),
	}, nil
}

// idFromPB maps an id that does not fit an int to 0, which names no student: a NOT_FOUND like any
// other unknown id.
func idFromPB(id int64) int {
	if int64(int(id)) != id {
		return 0
	}
	return int(id)
}

func encodeGRPCListStudentsResponse(_ context.Context, response any) (any, error) {
	r, err := as[ListStudentsResponse](response)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if r.Err != nil {
		return nil, toGRPCStatus(r.Err).Err()
	}
	out := &pb.ListStudentsResponse{Students: make([]*pb.Student, len(r.Students))}
	for i := range r.Students {
		out.Students[i] = studentToPB(r.Students[i])
	}
	return out, nil
}

func encodeGRPCGetStudentResponse(_ context.Context, response any) (any, error) {
	r, err := as[GetStudentResponse](response)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if r.Err != nil {
		return nil, toGRPCStatus(r.Err).Err()
	}
	return &pb.GetStudentResponse{Student: studentToPB(r.Student)}, nil
}

func encodeGRPCAddStudentResponse(_ context.Context, response any) (any, error) {
	r, err := as[AddStudentResponse](response)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if r.Err != nil {
		return nil, toGRPCStatus(r.Err).Err()
	}
	return &pb.AddStudentResponse{Student: studentToPB(r.Student)}, nil
}

func encodeGRPCAddGradeResponse(_ context.Context, response any) (any, error) {
	r, err := as[AddGradeResponse](response)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if r.Err != nil {
		return nil, toGRPCStatus(r.Err).Err()
	}
	return &pb.AddGradeResponse{Grade: gradeToPB(r.Grade)}, nil
}

func studentToPB(st Student) *pb.Student {
	out := &pb.Student{
		Id:        int64(st.ID),
		FirstName: st.FirstName,
		LastName:  st.LastName,
		Grades:    make([]*pb.Grade, len(st.Grades)),
		Average:   st.Average,
	}
	for i, g := range st.Grades {
		out.Grades[i] = gradeToPB(g)
	}
	return out
}

func gradeToPB(g Grade) *pb.Grade {
	return &pb.Grade{Title: g.Title, Type: g.Type, Score: g.Score}
}

func studentFromPB(st *pb.Student) Student {
	out := Student{
		ID:        idFromPB(st.GetId()),
		FirstName: st.GetFirstName(),
		LastName:  st.GetLastName(),
		Grades:    make([]Grade, len(st.GetGrades())),
	}
	if st.Average != nil {
		avg := st.GetAverage()
		out.Average = &avg
	}
	for i, g := range st.GetGrades() {
		out.Grades[i] = gradeFromPB(g)
	}
	return out
}

func gradeFromPB(g *pb.Grade) Grade {
	return Grade{Title: g.GetTitle(), Type: g.GetType(), Score: g.GetScore()}
}

// ---- errors: the one place where domain errors and gRPC statuses meet -------------------------

// toGRPCStatus maps a domain error to the status a gRPC caller gets. Validation errors carry a
// google.rpc.BadRequest detail naming each field, so that a client can give them back as
// errs.FieldErrors. Anything unknown is INTERNAL without its text, as a 500 hides it over HTTP.
func toGRPCStatus(err error) *status.Status {
	var fe errs.FieldErrors
	switch {
	case errors.As(err, &fe):
		st := status.New(codes.InvalidArgument, fe.Error())
		br := &errdetails.BadRequest{}
		for _, field := range slices.Sorted(mapKeys(fe)) {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: field, Description: fe[field]})
		}
		if withDetails, derr := st.WithDetails(br); derr == nil {
			st = withDetails
		}
		return st
	case errors.Is(err, errs.ErrInvalid):
		return status.New(codes.InvalidArgument, err.Error())
	case errors.Is(err, errs.ErrNotFound):
		return status.New(codes.NotFound, err.Error())
	case errors.Is(err, errs.ErrConflict):
		return status.New(codes.AlreadyExists, err.Error())
	case errors.Is(err, errs.ErrUnauthorized):
		return status.New(codes.Unauthenticated, err.Error())
	case errors.Is(err, errs.ErrUnavailable):
		return status.New(codes.Unavailable, err.Error())
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, err.Error())
	}
	if st, ok := status.FromError(err); ok {
		return st
	}
	return status.New(codes.Internal, "internal error")
}

// fromGRPCStatus is toGRPCStatus backwards, on the client: it answers the domain error a local
// caller would have seen, and ok=false for a status that is about the instance or the call
// rather than the request (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, ...), which a retry on
// another instance may fix and which should count against this instance's circuit breaker.
func fromGRPCStatus(st *status.Status) (err error, ok bool) {
	msg := st.Message()
	switch st.Code() {
	case codes.NotFound:
		return ErrStudentNotFound, true
	case codes.InvalidArgument, codes.OutOfRange, codes.ResourceExhausted:
		// RESOURCE_EXHAUSTED is what grpc-go answers a message over the size limit: the request's
		// fault, as a 413 is over HTTP, and the same on every instance.
		for _, d := range st.Details() {
			if br, isBR := d.(*errdetails.BadRequest); isBR && len(br.GetFieldViolations()) > 0 {
				fe := errs.FieldErrors{}
				for _, v := range br.GetFieldViolations() {
					fe[v.GetField()] = v.GetDescription()
				}
				return fe, true
			}
		}
		return &Error{Msg: nonEmpty(msg, "invalid request"), Kind: errs.ErrInvalid}, true
	case codes.AlreadyExists, codes.FailedPrecondition:
		return ErrIdempotencyConflict, true
	case codes.Unauthenticated, codes.PermissionDenied:
		return &Error{Msg: nonEmpty(msg, "unauthorized"), Kind: errs.ErrUnauthorized}, true
	}
	return nil, false
}

func isServerFailure(c codes.Code) bool {
	switch c {
	case codes.Internal, codes.Unknown, codes.DataLoss, codes.Unimplemented:
		return true
	}
	return false
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// ---- client -------------------------------------------------------------------------------

// DialGRPC returns a connection to the grading instance at target ("host:port", as go-kit sd
// hands it out). It is insecure, as the HTTP transport is plain HTTP, and sends token (when set)
// with every call as "authorization: Bearer <token>". The connection dials lazily, on the first
// call, and reconnects by itself; Close it when the instance is gone.
func DialGRPC(target, token string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	base := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxResponseBody), grpc.MaxCallSendMsgSize(MaxGRPCRequest)),
	}
	if token != "" {
		base = append(base, grpc.WithPerRPCCredentials(bearerCredentials(token)))
	}
	// passthrough: sd has already resolved the instance; grpc-go's default would resolve it again.
	return grpc.NewClient("passthrough:///"+target, append(base, opts...)...)
}

// bearerCredentials sends the shared token over a plain connection, as -token does over HTTP.
type bearerCredentials string

func (b bearerCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{AuthorizationMetadata: "Bearer " + string(b)}, nil
}

func (bearerCredentials) RequireTransportSecurity() bool { return false }

// MakeGRPCClientEndpoints returns Endpoints that call the grading instance behind conn. As with
// MakeHTTPClientEndpoints, business errors come back inside the responses as the very domain
// errors the local service returns, and only failures of the call itself (unreachable, deadline,
// INTERNAL, ...) are the endpoint's error, for circuit breakers and retries to act on.
func MakeGRPCClientEndpoints(conn *grpc.ClientConn) Endpoints {
	opts := []kitgrpc.ClientOption{kitgrpc.ClientBefore(sendRequestID)}
	return Endpoints{
		ListStudentsEndpoint: grpcClientEndpoint(kitgrpc.NewClient(conn, grpcService, "ListStudents",
			encodeGRPCListStudentsRequest, decodeGRPCListStudentsResponse, &pb.ListStudentsResponse{}, opts...).Endpoint(),
			func(err error) any { return ListStudentsResponse{Err: err} }),
		GetStudentEndpoint: grpcClientEndpoint(kitgrpc.NewClient(conn, grpcService, "GetStudent",
			encodeGRPCGetStudentRequest, decodeGRPCGetStudentResponse, &pb.GetStudentResponse{}, opts...).Endpoint(),
			func(err error) any { return GetStudentResponse{Err: err} }),
		AddStudentEndpoint: grpcClientEndpoint(kitgrpc.NewClient(conn, grpcService, "AddStudent",
			encodeGRPCAddStudentRequest, decodeGRPCAddStudentResponse, &pb.AddStudentResponse{}, opts...).Endpoint(),
			func(err error) any { return AddStudentResponse{Err: err} }),
		AddGradeEndpoint: grpcClientEndpoint(kitgrpc.NewClient(conn, grpcService, "AddGrade",
			encodeGRPCAddGradeRequest, decodeGRPCAddGradeResponse, &pb.AddGradeResponse{}, opts...).Endpoint(),
			func(err error) any { return AddGradeResponse{Err: err} }),
	}
}

// grpcClientEndpoint moves business statuses into the response (failed builds one), and leaves
// transport failures as the endpoint's error. A call the caller gave up on answers the context's
// own error, so that breakers and retries recognise it with errors.Is.
func grpcClientEndpoint(next func(context.Context, any) (any, error), failed func(error) any) func(context.Context, any) (any, error) {
	return func(ctx context.Context, request any) (any, error) {
		resp, err := next(ctx, request)
		if err == nil {
			return resp, nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("grading: %w (%v)", cerr, status.Convert(err).Message())
		}
		st, isStatus := status.FromError(err)
		if !isStatus {
			return nil, err // a request of the wrong type, say: ours, not the instance's
		}
		if derr, business := fromGRPCStatus(st); business {
			return failed(derr), nil
		}
		return nil, err
	}
}

func sendRequestID(ctx context.Context, md *metadata.MD) context.Context {
	if id := httpx.RequestID(ctx); id != "" {
		md.Set(RequestIDMetadata, id)
	}
	return ctx
}

func encodeGRPCListStudentsRequest(context.Context, any) (any, error) {
	return &pb.ListStudentsRequest{}, nil
}

func encodeGRPCGetStudentRequest(_ context.Context, request any) (any, error) {
	req, ok := request.(GetStudentRequest)
	if !ok {
		return nil, fmt.Errorf("grading: GetStudent endpoint got %T", request)
	}
	return &pb.GetStudentRequest{Id: int64(req.ID)}, nil
}

func encodeGRPCAddStudentRequest(_ context.Context, request any) (any, error) {
	req, ok := request.(AddStudentRequest)
	if !ok {
		return nil, fmt.Errorf("grading: AddStudent endpoint got %T", request)
	}
	return &pb.AddStudentRequest{FirstName: req.FirstName, LastName: req.LastName}, nil
}

func encodeGRPCAddGradeRequest(_ context.Context, request any) (any, error) {
	req, ok := request.(AddGradeRequest)
	if !ok {
		return nil, fmt.Errorf("grading: AddGrade endpoint got %T", request)
	}
	return &pb.AddGradeRequest{StudentId: int64(req.StudentID), Grade: gradeToPB(req.Grade), IdempotencyKey: req.IdempotencyKey}, nil
}

func decodeGRPCListStudentsResponse(_ context.Context, response any) (any, error) {
	r, ok := response.(*pb.ListStudentsResponse)
	if !ok {
		return nil, fmt.Errorf("grading: ListStudents answered %T", response)
	}
	out := ListStudentsResponse{Students: make([]Student, len(r.GetStudents()))}
	for i, st := range r.GetStudents() {
		out.Students[i] = studentFromPB(st)
	}
	return out, nil
}

func decodeGRPCGetStudentResponse(_ context.Context, response any) (any, error) {
	r, ok := response.(*pb.GetStudentResponse)
	if !ok {
		return nil, fmt.Errorf("grading: GetStudent answered %T", response)
	}
	return GetStudentResponse{Student: studentFromPB(r.GetStudent())}, nil
}

func decodeGRPCAddStudentResponse(_ context.Context, response any) (any, error) {
	r, ok := response.(*pb.AddStudentResponse)
	if !ok {
		return nil, fmt.Errorf("grading: AddStudent answered %T", response)
	}
	return AddStudentResponse{Student: studentFromPB(r.GetStudent())}, nil
}

func decodeGRPCAddGradeResponse(_ context.Context, response any) (any, error) {
	r, ok := response.(*pb.AddGradeResponse)
	if !ok {
		return nil, fmt.Errorf("grading: AddGrade answered %T", response)
	}
	return AddGradeResponse{Grade: gradeFromPB(r.GetGrade())}, nil
}

// ---- health -------------------------------------------------------------------------------

// GRPCHealth is the grpc.health.v1 service of a grading gRPC server, which Consul's and the
// hub's GRPC checks call: SERVING while ready answers nil, NOT_SERVING when it fails and from
// Shutdown on. It answers the server as a whole ("") and the Grading service by name; Watch and
// List report the lifecycle (SERVING until Shutdown) without running ready.
type GRPCHealth struct {
	*health.Server
	ready func() error
}

// NewGRPCHealth returns the health service; ready is called on every Check.
func NewGRPCHealth(ready func() error) *GRPCHealth {
	h := &GRPCHealth{Server: health.NewServer(), ready: ready}
	h.SetServingStatus(grpcService, healthpb.HealthCheckResponse_SERVING)
	return h
}

// Check implements healthpb.HealthServer.
func (h *GRPCHealth) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	resp, err := h.Server.Check(ctx, req)
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING || h.ready == nil {
		return resp, err
	}
	if h.ready() != nil {
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING}, nil
	}
	return resp, nil
}

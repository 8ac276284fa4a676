package grpcx

import (
	"context"
	"errors"
	"maps"
	"slices"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gradebook/gradebook/pkg/errs"
)

// codeOfKind is the one table that maps error kinds to gRPC codes.
var codeOfKind = map[errs.Kind]codes.Code{
	errs.OK:           codes.OK,
	errs.Invalid:      codes.InvalidArgument,
	errs.NotFound:     codes.NotFound,
	errs.Conflict:     codes.AlreadyExists,
	errs.Unauthorized: codes.Unauthenticated,
	errs.Unavailable:  codes.Unavailable,
	errs.Internal:     codes.Internal,
}

// kindOfCode is codeOfKind backwards, for the codes that are about the request rather than the
// instance: a client answers these as business errors. RESOURCE_EXHAUSTED is what grpc-go
// answers a message over the size limit: the request's fault, as a 413 is over HTTP.
var kindOfCode = map[codes.Code]error{
	codes.InvalidArgument:    errs.ErrInvalid,
	codes.OutOfRange:         errs.ErrInvalid,
	codes.ResourceExhausted:  errs.ErrInvalid,
	codes.NotFound:           errs.ErrNotFound,
	codes.AlreadyExists:      errs.ErrConflict,
	codes.FailedPrecondition: errs.ErrConflict,
	codes.Unauthenticated:    errs.ErrUnauthorized,
	codes.PermissionDenied:   errs.ErrUnauthorized,
}

// StatusOf maps an error to the status a gRPC caller gets. Field errors carry a
// google.rpc.BadRequest detail naming each field, so that a client can give them back as
// errs.FieldErrors. An internal error is INTERNAL without its text, as a 500 hides it over HTTP.
func StatusOf(err error) *status.Status {
	switch {
	case err == nil:
		return status.New(codes.OK, "")
	case errors.Is(err, context.Canceled):
		return status.New(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.New(codes.DeadlineExceeded, err.Error())
	}
	var fe errs.FieldErrors
	if errors.As(err, &fe) {
		st := status.New(codes.InvalidArgument, fe.Error())
		br := &errdetails.BadRequest{}
		for _, field := range slices.Sorted(maps.Keys(fe)) {
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: field, Description: fe[field]})
		}
		if withDetails, derr := st.WithDetails(br); derr == nil {
			st = withDetails
		}
		return st
	}
	kind := errs.KindOf(err)
	if kind == errs.Internal {
		if st, ok := status.FromError(err); ok {
			return st // already a status: a transport's own answer
		}
		return status.New(codes.Internal, "internal error")
	}
	return status.New(codeOfKind[kind], err.Error())
}

// ErrorOf is StatusOf backwards, on the client. It answers the error of the kind a local caller
// would have seen (field errors included), and business=false for a status that is about the
// instance or the call rather than the request (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, ...),
// which a retry on another instance may fix and which should count against the instance.
func ErrorOf(st *status.Status) (err error, business bool) {
	kind, ok := kindOfCode[st.Code()]
	if !ok {
		return nil, false
	}
	if kind == errs.ErrInvalid {
		for _, d := range st.Details() {
			if br, isBR := d.(*errdetails.BadRequest); isBR && len(br.GetFieldViolations()) > 0 {
				fe := errs.FieldErrors{}
				for _, v := range br.GetFieldViolations() {
					fe[v.GetField()] = v.GetDescription()
				}
				return fe, true
			}
		}
	}
	msg := st.Message()
	if msg == "" {
		msg = kind.Error()
	}
	return errs.New(kind, msg), true
}

// IsServerFailure tells the codes that mean this server failed, which deserve an error log line.
func IsServerFailure(c codes.Code) bool {
	switch c {
	case codes.Internal, codes.Unknown, codes.DataLoss, codes.Unimplemented:
		return true
	}
	return false
}

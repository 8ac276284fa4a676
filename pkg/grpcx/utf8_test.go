package grpcx

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/apipb"
)

// wireString appends field num as a string of raw bytes, valid UTF-8 or not.
func wireString(b []byte, num protowire.Number, s string) []byte {
	return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
}

// wireEmbedded appends field num as the embedded message m.
func wireEmbedded(b []byte, num protowire.Number, m []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), m)
}

// apiWires are google.protobuf.Api messages (a proto3 message with strings, repeated nested
// messages and enums) with invalid UTF-8 in one place, and the field each names.
var apiWires = []struct {
	wire  []byte
	field string
}{
	{wireString(nil, 1, "\xff"), "name"},
	{wireEmbedded(wireString(nil, 1, "ok"), 2, wireString(nil, 1, "m\xc3")), "methods[0].name"},
	{wireEmbedded(wireEmbedded(nil, 2, wireString(nil, 1, "a")), 2, wireString(wireString(nil, 1, "b"), 2, "type.googleapis.com/\xed\xa0\x80")), "methods[1].requestTypeUrl"},
	{wireString(protowire.AppendVarint(protowire.AppendTag(nil, 7, protowire.VarintType), 1), 4, "v\xfe"), "version"},
}

func TestInvalidUTF8FieldNamesTheProtobufField(t *testing.T) {
	md := (&apipb.Api{}).ProtoReflect().Descriptor()
	for _, tc := range apiWires {
		if err := proto.Unmarshal(tc.wire, &apipb.Api{}); err == nil {
			t.Fatalf("protobuf took %q, which holds invalid UTF-8", tc.wire)
		}
		if field, ok := InvalidUTF8Field(tc.wire, md); !ok || field != tc.field {
			t.Errorf("InvalidUTF8Field(%q) = %q, %v; want %q", tc.wire, field, ok, tc.field)
		}
	}
	valid, _ := proto.Marshal(&apipb.Api{Name: "Zoë", Methods: []*apipb.Method{{Name: "\ufffd"}}})
	if field, ok := InvalidUTF8Field(valid, md); ok {
		t.Errorf("InvalidUTF8Field(valid) = %q", field)
	}
}

func FuzzInvalidUTF8Field(f *testing.F) {
	for _, tc := range apiWires {
		f.Add(tc.wire)
	}
	valid, _ := proto.Marshal(&apipb.Api{Name: "x", Methods: []*apipb.Method{{Name: "m"}}, Version: "1"})
	f.Add(valid)
	md := (&apipb.Api{}).ProtoReflect().Descriptor()
	f.Fuzz(func(t *testing.T, b []byte) {
		field, found := InvalidUTF8Field(b, md)
		if found && field == "" {
			t.Fatalf("InvalidUTF8Field(%q) found an unnamed field", b)
		}
		if found && proto.Unmarshal(b, &apipb.Api{}) == nil {
			t.Fatalf("InvalidUTF8Field(%q) = %q, but protobuf takes the message", b, field)
		}
	})
}

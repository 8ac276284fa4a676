package grpcx

import (
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// InvalidUTF8Field finds the first string field of a message of type md in the wire bytes b that
// holds invalid UTF-8 (which proto3 refuses at unmarshal, without saying which field), and names
// it as the HTTP API names its JSON fields: by JSON name, with nested messages as "a.b" and
// repeated ones as "a[2]". ok is false when there is none, or when b ends before one is found.
func InvalidUTF8Field(b []byte, md protoreflect.MessageDescriptor) (field string, ok bool) {
	return invalidUTF8Field(b, md, "", 0)
}

// maxNesting bounds the recursion into nested messages, as protobuf's own decoder does.
const maxNesting = 100

func invalidUTF8Field(b []byte, md protoreflect.MessageDescriptor, prefix string, depth int) (string, bool) {
	if depth > maxNesting {
		return "", false
	}
	seen := map[protowire.Number]int{} // per repeated field, the next index
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", false
		}
		b = b[n:]
		fd := md.Fields().ByNumber(num)
		if typ != protowire.BytesType || fd == nil {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return "", false
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return "", false
		}
		b = b[n:]
		name := prefix + fd.JSONName()
		if fd.IsList() {
			name += "[" + strconv.Itoa(seen[num]) + "]"
			seen[num]++
		}
		switch fd.Kind() {
		case protoreflect.StringKind:
			if !utf8.Valid(v) {
				return name, true
			}
		case protoreflect.MessageKind:
			if fd.IsMap() {
				continue // gradebook's messages have no maps; their keys and values go unnamed
			}
			if f, ok := invalidUTF8Field(v, fd.Message(), name+".", depth+1); ok {
				return f, true
			}
		}
	}
	return "", false
}

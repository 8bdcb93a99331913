package server

import "bytes"

// DecodeForTest decodes a REST body into v as the gateway does.
func DecodeForTest(data []byte, v any) error {
	return apiMarshaler.NewDecoder(bytes.NewReader(data)).Decode(v)
}

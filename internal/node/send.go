package node

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// send writes one message to the output and flushes it: {"src","dest",
// "body"} with the body's members in protocol order (type, in_reply_to,
// msg_id, then fields), no spaces, one line.
func (n *Node) send(dest, typ string, inReplyTo *int64, fields []field) error {
	var b bytes.Buffer
	b.WriteString(`{"src":`)
	writeJSON(&b, n.id)
	b.WriteString(`,"dest":`)
	writeJSON(&b, dest)
	b.WriteString(`,"body":{"type":`)
	writeJSON(&b, typ)
	if inReplyTo != nil {
		fmt.Fprintf(&b, `,"in_reply_to":%d`, *inReplyTo)
	}
	fmt.Fprintf(&b, `,"msg_id":%d`, n.msgID)
	n.msgID++
	for _, f := range fields {
		b.WriteByte(',')
		writeJSON(&b, f.key)
		b.WriteByte(':')
		writeJSON(&b, f.value)
	}
	b.WriteString("}}\n")
	if _, err := n.out.Write(b.Bytes()); err != nil {
		return fmt.Errorf("node: writing reply: %w", err)
	}
	if err := n.out.Flush(); err != nil {
		return fmt.Errorf("node: writing reply: %w", err)
	}
	return nil
}

// writeJSON appends v as compact JSON without HTML escaping.
func writeJSON(b *bytes.Buffer, v any) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	// Encoding strings, ints and string maps cannot fail.
	_ = enc.Encode(v)
	// Encode ends with a newline; drop it.
	b.Truncate(b.Len() - 1)
}

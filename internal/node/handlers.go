package node

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"
	"unicode/utf8"
)

// field is one member of a reply body; replies keep their members in the
// order the protocol fixes: type, in_reply_to, msg_id, then the rest.
type field struct {
	key   string
	value any
}

// request is the common part of every incoming body.
type request struct {
	Type  string `json:"type"`
	MsgID *int64 `json:"msg_id"`
}

// malformed is a handler's complaint about its message's fields.
type malformed string

func (m malformed) Error() string { return string(m) }

// handle answers one message. It returns an error only when writing fails.
func (n *Node) handle(ctx context.Context, msg message) error {
	var req request
	if err := json.Unmarshal(msg.Body, &req); err != nil {
		n.log.Warn("skipping message whose body is not an object with a type", "error", err)
		return nil
	}
	if n.id == "" && msg.Dest != "" && req.Type != "init" {
		n.id = msg.Dest
	}
	fields, code, text := n.dispatch(ctx, req.Type, msg.Body)
	replyType := req.Type + "_ok"
	switch {
	case code != 0:
		replyType = "error"
		fields = []field{{"code", code}, {"text", text}}
	case req.Type == "request":
		replyType = "response"
	}
	return n.send(msg.Src, replyType, req.MsgID, fields)
}

// dispatch runs the handler of a message type, turning a panic into a
// crash error so that the node goes on.
func (n *Node) dispatch(ctx context.Context, typ string, body json.RawMessage) (fields []field, code int, text string) {
	defer func() {
		if v := recover(); v != nil {
			n.log.Error("handler crashed", "type", typ, "panic", fmt.Sprint(v))
			fields, code, text = nil, CodeCrash, fmt.Sprintf("%s handler failed", typ)
		}
	}()
	var err error
	switch typ {
	case "init":
		fields, err = n.handleInit(body)
	case "origin_put":
		fields, err = n.handleOriginPut(body)
	case "request":
		fields, err = n.handleRequest(ctx, body)
	case "advance_clock":
		fields, err = n.handleAdvanceClock(body)
	default:
		return nil, CodeNotSupported, fmt.Sprintf("message type %q is not supported", typ)
	}
	if m, ok := err.(malformed); ok {
		return nil, CodeMalformed, string(m)
	}
	if err != nil {
		return nil, CodeCrash, err.Error()
	}
	return fields, 0, ""
}

func decodeBody(body json.RawMessage, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return malformed("malformed body: " + err.Error())
	}
	return nil
}

func (n *Node) handleInit(body json.RawMessage) ([]field, error) {
	var b struct {
		NodeID  *string  `json:"node_id"`
		NodeIDs []string `json:"node_ids"`
	}
	if err := decodeBody(body, &b); err != nil {
		return nil, err
	}
	if b.NodeID == nil || *b.NodeID == "" {
		return nil, malformed("init needs node_id")
	}
	n.id = *b.NodeID
	return nil, nil
}

// headers is a header object: each name maps to a string or a list of
// strings.
type headers map[string]json.RawMessage

func (h headers) toHTTP() (http.Header, error) {
	out := make(http.Header, len(h))
	for name, raw := range h {
		if name == "" || strings.ContainsAny(name, " \t\r\n:") {
			return nil, malformed(fmt.Sprintf("bad header name %q", name))
		}
		var one string
		if err := json.Unmarshal(raw, &one); err == nil {
			out.Add(name, one)
			continue
		}
		var many []string
		if err := json.Unmarshal(raw, &many); err != nil {
			return nil, malformed(fmt.Sprintf("header %q must be a string or a list of strings", name))
		}
		for _, v := range many {
			out.Add(name, v)
		}
	}
	for name, vs := range out {
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n\x00") {
				return nil, malformed(fmt.Sprintf("header %q has a control character", name))
			}
		}
	}
	return out, nil
}

func (n *Node) handleOriginPut(body json.RawMessage) ([]field, error) {
	var b struct {
		Path    *string `json:"path"`
		Status  *int    `json:"status"`
		Headers headers `json:"headers"`
		Body    string  `json:"body"`
	}
	if err := decodeBody(body, &b); err != nil {
		return nil, err
	}
	if b.Path == nil || !strings.HasPrefix(*b.Path, "/") {
		return nil, malformed("origin_put needs a path starting with /")
	}
	status := http.StatusOK
	if b.Status != nil {
		status = *b.Status
	}
	if status < 100 || status > 999 {
		return nil, malformed(fmt.Sprintf("status %d is not a valid HTTP status", status))
	}
	h, err := b.Headers.toHTTP()
	if err != nil {
		return nil, err
	}
	n.origin.put(*b.Path, script{status: status, header: h, body: []byte(b.Body)})
	return nil, nil
}

func (n *Node) handleRequest(ctx context.Context, body json.RawMessage) ([]field, error) {
	var b struct {
		Method  string  `json:"method"`
		Path    *string `json:"path"`
		Headers headers `json:"headers"`
		Body    string  `json:"body"`
	}
	if err := decodeBody(body, &b); err != nil {
		return nil, err
	}
	if b.Path == nil || !strings.HasPrefix(*b.Path, "/") {
		return nil, malformed("request needs a path starting with /")
	}
	if b.Method == "" {
		b.Method = http.MethodGet
	}
	h, err := b.Headers.toHTTP()
	if err != nil {
		return nil, err
	}
	r, err := http.NewRequestWithContext(ctx, b.Method, "http://node"+*b.Path, strings.NewReader(b.Body))
	if err != nil {
		return nil, malformed("bad request: " + err.Error())
	}
	r.Header = h
	if host := h.Get("Host"); host != "" {
		r.Host = host
	}
	r.RemoteAddr = "127.0.0.1:1"
	r.RequestURI = r.URL.RequestURI()
	rec := httptest.NewRecorder()
	n.proxy.ServeHTTP(rec, r)
	resp := rec.Result()
	out := make(map[string]string, len(resp.Header))
	for name, vs := range resp.Header {
		if len(vs) == 0 {
			continue // a field with no value is not sent, as on the wire
		}
		out[name] = strings.Join(vs, ", ")
	}
	fields := []field{{"status", resp.StatusCode}, {"headers", out}}
	if b := rec.Body.Bytes(); utf8.Valid(b) {
		fields = append(fields, field{"body", string(b)})
	} else {
		fields = append(fields, field{"body", ""}, field{"body_base64", base64.StdEncoding.EncodeToString(b)})
	}
	fields = append(fields,
		field{"cache", resp.Header.Get("Cache-Status")},
		field{"origin_requests", n.origin.requests(pathOf(*b.Path))})
	return fields, nil
}

func pathOf(target string) string {
	if i := strings.IndexByte(target, '?'); i >= 0 {
		return target[:i]
	}
	return target
}

func (n *Node) handleAdvanceClock(body json.RawMessage) ([]field, error) {
	var b struct {
		Seconds *float64 `json:"seconds"`
	}
	if err := decodeBody(body, &b); err != nil {
		return nil, err
	}
	if b.Seconds == nil || *b.Seconds < 0 || math.IsNaN(*b.Seconds) || *b.Seconds > 1e9 {
		return nil, malformed("advance_clock needs seconds, a number from 0 to 1e9")
	}
	n.clock.Advance(time.Duration(*b.Seconds * float64(time.Second)))
	return nil, nil
}

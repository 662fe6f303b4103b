package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// Errno values of the envelope (SPEC §3).
const (
	ErrnoOK             = 0
	ErrnoUpstream       = -1
	ErrnoMissing        = 401
	ErrnoBadArgument    = 402
	ErrnoNotFound       = 404
	ErrnoMethod         = 405
	ErrnoRateLimited    = 429
	ErrnoUnauthorized   = 501
	ErrnoInternal       = 502
	ErrnoUpdateFailed   = 505
	ErrnoAccountBlocked = 700
)

// Errmsg texts, exactly as the mini-program and the seed know them.
const (
	MsgOK           = "成功"
	MsgUpstream     = "错误"
	MsgMissing      = "参数不对"
	MsgBadArgument  = "参数值不对"
	MsgRateLimited  = "请求过于频繁"
	MsgUnauthorized = "请登录"
	MsgInternal     = "系统内部错误"
	MsgUpdateFailed = "更新数据失败"
	MsgDisabled     = "账号不可用：已禁用"
	MsgCancelled    = "账号不可用：已注销"
	MsgDeleted      = "账号不可用：已删除"
	MsgNotFound     = "接口不存在"
	MsgMethod       = "请求方法不对"
)

// Envelope is every /wx answer: HTTP 200 (except routing errors) with
// errno, errmsg and data.
type Envelope struct {
	Errno  int    `json:"errno"`
	Errmsg string `json:"errmsg"`
	Data   any    `json:"data"`
}

// RequestInfo is filled while a request is handled, for the access log
// and metrics, which run outside the handler.
type RequestInfo struct {
	Errno   int
	HasBody bool // an envelope was written
	UserID  int64
}

type requestInfoKey struct{}

// WithRequestInfo attaches ri to ctx; WriteEnvelope records the errno in it.
func WithRequestInfo(ctx context.Context, ri *RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, ri)
}

// RequestInfoFrom returns the RequestInfo of ctx, or nil.
func RequestInfoFrom(ctx context.Context) *RequestInfo {
	ri, _ := ctx.Value(requestInfoKey{}).(*RequestInfo)
	return ri
}

var emptyData = struct{}{}

// WriteEnvelope writes an envelope with the given HTTP status.
func WriteEnvelope(w http.ResponseWriter, r *http.Request, status, errno int, errmsg string, data any) {
	if data == nil {
		data = emptyData
	}
	if ri := RequestInfoFrom(r.Context()); ri != nil {
		ri.Errno, ri.HasBody = errno, true
	}
	b, err := json.Marshal(Envelope{Errno: errno, Errmsg: errmsg, Data: data})
	if err != nil {
		b = []byte(`{"errno":502,"errmsg":"` + MsgInternal + `","data":{}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// WriteOK writes errno 0 with data.
func WriteOK(w http.ResponseWriter, r *http.Request, data any) {
	WriteEnvelope(w, r, http.StatusOK, ErrnoOK, MsgOK, data)
}

// ErrorErrno maps a domain error to its errno, errmsg and data. Anything
// it does not know is an internal failure (502).
func ErrorErrno(err error) (errno int, errmsg string, data any) {
	var (
		missing  *MissingArgumentError
		bad      *BadArgumentError
		upstream *UpstreamError
	)
	switch {
	case errors.As(err, &missing):
		return ErrnoMissing, MsgMissing, nil
	case errors.As(err, &bad):
		return ErrnoBadArgument, MsgBadArgument, nil
	case errors.As(err, &upstream):
		if upstream.Answered {
			return ErrnoUpstream, MsgUpstream, map[string]any{"wxErrcode": upstream.Errcode, "wxErrmsg": upstream.Errmsg}
		}
		return ErrnoUpstream, MsgUpstream, nil
	case errors.Is(err, ErrRateLimited):
		return ErrnoRateLimited, MsgRateLimited, nil
	case errors.Is(err, ErrUnauthenticated):
		return ErrnoUnauthorized, MsgUnauthorized, nil
	case errors.Is(err, ErrAccountDisabled):
		return ErrnoAccountBlocked, MsgDisabled, nil
	case errors.Is(err, ErrAccountCancelled):
		return ErrnoAccountBlocked, MsgCancelled, nil
	case errors.Is(err, ErrAccountDeleted):
		return ErrnoAccountBlocked, MsgDeleted, nil
	case errors.Is(err, ErrNotFound):
		return ErrnoUpdateFailed, MsgUpdateFailed, nil
	}
	return ErrnoInternal, MsgInternal, nil
}

// WriteError writes the envelope for err (always HTTP 200) and logs what
// only the server log may know: internal failures in detail, WeChat
// failures redacted.
func WriteError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	errno, msg, data := ErrorErrno(err)
	if logger != nil {
		switch errno {
		case ErrnoInternal:
			logger.ErrorContext(r.Context(), "internal error", "route", r.Pattern, "err", Redact(err.Error()))
		case ErrnoUpstream:
			logger.WarnContext(r.Context(), "wechat failure", "route", r.Pattern, "err", Redact(err.Error()))
		}
	}
	WriteEnvelope(w, r, http.StatusOK, errno, msg, data)
}

// MaxJSONBody is the largest JSON request body accepted (64 KiB).
const MaxJSONBody = 64 << 10

// DecodeJSON reads a JSON request body into v: empty → 401; over 64 KiB,
// invalid UTF-8 (checked on the raw bytes: Go's decoder silently replaces
// it), malformed JSON, trailing data or wrong types → 402.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxJSONBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &BadArgumentError{Reason: "body over 64 KiB"}
		}
		return &BadArgumentError{Reason: "body unreadable"}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return &MissingArgumentError{Field: "body"}
	}
	if !utf8.Valid(body) {
		return &BadArgumentError{Reason: "invalid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return &BadArgumentError{Reason: "malformed JSON or wrong types"}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &BadArgumentError{Reason: "data after the JSON value"}
	}
	return nil
}

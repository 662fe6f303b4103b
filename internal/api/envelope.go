package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/oactl/oactl/internal/auth"
	"github.com/oactl/oactl/internal/storage"
	"github.com/oactl/oactl/internal/wechat"
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
	ErrnoPhoneTaken     = 705
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
	MsgPhoneTaken   = "手机号已注册"
)

// Envelope is every /wx answer: HTTP 200 (except routing errors and a
// fetch of an unknown key) with errno, errmsg and data.
type Envelope struct {
	Errno  int    `json:"errno"`
	Errmsg string `json:"errmsg"`
	Data   any    `json:"data"`
}

var emptyData = struct{}{}

// WriteEnvelope writes an envelope with the given HTTP status and records
// the errno in the request's RequestInfo.
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
	// The keys are canonical already: Set would canonicalise them again
	// and allocate a slice per value on every answer. The constant
	// values are shared; net/http only reads them.
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	h["Content-Length"] = []string{strconv.Itoa(len(b) + 1)}
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	noStore         = []string{"no-store"}
)

// WriteOK writes errno 0 with data.
func WriteOK(w http.ResponseWriter, r *http.Request, data any) {
	WriteEnvelope(w, r, http.StatusOK, ErrnoOK, MsgOK, data)
}

// writeNotFound is the routing 404: HTTP 404, errno 404.
func writeNotFound(w http.ResponseWriter, r *http.Request) {
	WriteEnvelope(w, r, http.StatusNotFound, ErrnoNotFound, MsgNotFound, nil)
}

// ErrorErrno maps a domain error (auth's and storage's) to its errno,
// errmsg and data: the one such mapping. Anything it does not know is an
// internal failure (502).
func ErrorErrno(err error) (errno int, errmsg string, data any) {
	var (
		missing  *auth.MissingArgumentError
		bad      *auth.BadArgumentError
		upstream *auth.UpstreamError
	)
	switch {
	case errors.As(err, &missing):
		return ErrnoMissing, MsgMissing, fieldData(missing.Field)
	case errors.As(err, &bad):
		return ErrnoBadArgument, MsgBadArgument, fieldData(bad.Field)
	case errors.Is(err, storage.ErrNotImage):
		return ErrnoBadArgument, MsgBadArgument, fieldData(UploadField)
	case errors.As(err, &upstream):
		if upstream.Answered {
			return ErrnoUpstream, MsgUpstream, map[string]any{"wxErrcode": upstream.Errcode, "wxErrmsg": upstream.Errmsg}
		}
		return ErrnoUpstream, MsgUpstream, nil
	case errors.Is(err, auth.ErrRateLimited):
		return ErrnoRateLimited, MsgRateLimited, nil
	case errors.Is(err, auth.ErrUnauthenticated):
		return ErrnoUnauthorized, MsgUnauthorized, nil
	case auth.IsAccountState(err):
		return ErrnoAccountBlocked, accountMsg(err), nil
	case errors.Is(err, auth.ErrPhoneTaken):
		return ErrnoPhoneTaken, MsgPhoneTaken, nil
	case errors.Is(err, auth.ErrNotFound):
		return ErrnoUpdateFailed, MsgUpdateFailed, nil
	}
	return ErrnoInternal, MsgInternal, nil
}

// fieldData is the data of a 401 or 402 (SPEC §3): {"field": name}
// naming what was wrong, or nothing when the request as a whole was (an
// empty or malformed body).
func fieldData(name string) any {
	if name == "" {
		return nil
	}
	return fieldJSON{Field: name}
}

type fieldJSON struct {
	Field string `json:"field"`
}

// accountMsg names the state of an account auth.IsAccountState refused.
func accountMsg(err error) string {
	switch {
	case errors.Is(err, auth.ErrAccountCancelled):
		return MsgCancelled
	case errors.Is(err, auth.ErrAccountDeleted):
		return MsgDeleted
	}
	return MsgDisabled
}

// WriteError writes the envelope for err (always HTTP 200) and logs what
// only the server log may know: internal failures in detail, WeChat
// failures redacted. A client that hung up is no failure of ours: when
// the request's context is canceled, nothing is written, the error is
// logged at DEBUG only, and the RequestInfo says ClientGone (the request
// log's 499).
func WriteError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	if r.Context().Err() != nil {
		if ri := RequestInfoFrom(r.Context()); ri != nil {
			ri.ClientGone = true
		}
		if logger != nil {
			// What was in flight when the client left, for whoever looks.
			logger.DebugContext(r.Context(), "client gone", "route", r.Pattern, "err", wechat.Redact(err.Error()))
		}
		return
	}
	errno, msg, data := ErrorErrno(err)
	if logger != nil {
		switch errno {
		case ErrnoInternal:
			logger.ErrorContext(r.Context(), "internal error", "route", r.Pattern, "err", wechat.Redact(err.Error()))
		case ErrnoUpstream:
			logger.WarnContext(r.Context(), "wechat failure", "route", r.Pattern, "err", wechat.Redact(err.Error()))
		}
	}
	WriteEnvelope(w, r, http.StatusOK, errno, msg, data)
}

// WriteRateLimited answers a request refused by a rate limit: HTTP 200
// (like every /wx answer the mini-program reads) with errno 429 and a
// Retry-After header in whole seconds.
func WriteRateLimited(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	w.Header().Set("Retry-After", retryAfter(wait))
	WriteError(w, r, nil, auth.ErrRateLimited)
}

// retryAfter formats a Retry-After value in whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

// MaxJSONBody is the largest JSON request body accepted (64 KiB).
const MaxJSONBody = 64 << 10

// DecodeJSON reads a JSON request body into v: empty → 401; over 64 KiB,
// invalid UTF-8 (checked on the raw bytes: Go's decoder silently replaces
// it), malformed JSON, trailing data or wrong types → 402.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxJSONBody))
	if err != nil {
		if isTooBig(err) {
			return &auth.BadArgumentError{Reason: "body over 64 KiB"}
		}
		return &auth.BadArgumentError{Reason: "body unreadable"}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return &auth.MissingArgumentError{}
	}
	if !utf8.Valid(body) {
		return &auth.BadArgumentError{Reason: "invalid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			// The decoder names the field by its JSON path ("userInfo.gender").
			return &auth.BadArgumentError{Field: typeErr.Field, Reason: "wrong type"}
		}
		return &auth.BadArgumentError{Reason: "malformed JSON"}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &auth.BadArgumentError{Reason: "data after the JSON value"}
	}
	return nil
}

// isTooBig reports whether err comes from an http.MaxBytesReader limit.
func isTooBig(err error) bool {
	var tooBig *http.MaxBytesError
	return errors.As(err, &tooBig)
}

package portal

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/gradebook/gradebook/grading"
	"github.com/gradebook/gradebook/pkg/httpx"
	"github.com/gradebook/gradebook/pkg/requestid"
	"github.com/gradebook/gradebook/portal/auth"
)

// SessionCookie is the name of the cookie that carries a teacher's sealed session.
const SessionCookie = "gradebook_session"

// APIUser is who a grade recorded through /api/v1 with the bearer token was entered by.
const APIUser = "api"

// Defaults of sign-in.
const (
	DefaultSessionTTL    = 12 * time.Hour
	DefaultMaxFailures   = 5
	DefaultFailureWindow = 15 * time.Minute
	defaultAfterSignIn   = "/students"
)

// SignIn configures teacher sign-in. With Users nil the portal is open: every page and form
// works without a session, and each page says so.
type SignIn struct {
	// Users are the teachers who may sign in.
	Users *auth.Users
	// Sealer seals and opens session cookies; every instance behind one address shares its key.
	Sealer *auth.Sealer
	// TTL is how long a session lasts (DefaultSessionTTL when 0).
	TTL time.Duration
	// Token is the portal's -token: /api/v1 accepts it as a bearer token in place of a session.
	Token string
	// MaxFailures failed sign-ins per user name, and as many per client address, within
	// FailureWindow block further tries from either until the window ends (defaults
	// DefaultMaxFailures and DefaultFailureWindow).
	MaxFailures   int
	FailureWindow time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// userKey is the context key of the name of whoever makes a request.
type userKey struct{}

// withUser returns ctx saying that user makes the request.
func withUser(ctx context.Context, user string) context.Context {
	return context.WithValue(ctx, userKey{}, user)
}

// userFrom is who makes the request ctx belongs to: a teacher's name, APIUser, or "" when
// the portal is open and the request carries neither a session nor the token.
func userFrom(ctx context.Context) string {
	u, _ := ctx.Value(userKey{}).(string)
	return u
}

// stampEnteredBy sets who entered each grade to whoever makes the request, whatever the client
// sent: a caller cannot record a grade in another teacher's name.
func stampEnteredBy(next endpoint.Endpoint) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		if req, ok := request.(grading.AddGradeRequest); ok {
			req.Grade.EnteredBy = userFrom(ctx)
			request = req
		}
		return next(ctx, request)
	}
}

// gate decides who may use the portal: the pages need a session, /api/v1 a session or the
// token, once users are configured.
type gate struct {
	SignIn
	revoked  *auth.Revocations
	failures *auth.FailureLimiter
	logger   log.Logger
}

func newGate(s *SignIn, logger log.Logger) *gate {
	g := &gate{logger: logger, revoked: auth.NewRevocations()}
	if s != nil {
		g.SignIn = *s
	}
	if g.TTL <= 0 {
		g.TTL = DefaultSessionTTL
	}
	if g.MaxFailures <= 0 {
		g.MaxFailures = DefaultMaxFailures
	}
	if g.FailureWindow <= 0 {
		g.FailureWindow = DefaultFailureWindow
	}
	if g.Now == nil {
		g.Now = time.Now
	}
	g.failures = auth.NewFailureLimiter(g.MaxFailures, g.FailureWindow)
	return g
}

// open reports whether the portal serves without sign-in.
func (g *gate) open() bool { return g.Users == nil }

// session returns the live session r carries, if any.
func (g *gate) session(r *http.Request) (auth.Session, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil || g.Sealer == nil {
		return auth.Session{}, false
	}
	s, err := g.Sealer.Open(c.Value, g.Now())
	if err != nil || g.revoked.Revoked(s) {
		return auth.Session{}, false
	}
	return s, true
}

// pages lets through a request with a session, naming its teacher in the context; any other
// goes to the sign-in page (303), which comes back to the page asked for. Nothing a form sent
// without a session is acted on.
func (g *gate) pages(next http.Handler) http.Handler {
	if g.open() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s, ok := g.session(r); ok {
			next.ServeHTTP(w, r.WithContext(withUser(r.Context(), s.User)))
			return
		}
		back := r.URL.RequestURI()
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			// A form's answer is the page it was on; its post cannot be replayed by a redirect.
			back = strings.TrimSuffix(r.URL.Path, "/grades")
		}
		http.Redirect(w, r, "/login?next="+url.QueryEscape(safeNext(back)), http.StatusSeeOther)
	})
}

// api lets through a request with the bearer token (as APIUser) or a session (as its teacher).
// With users configured anything else gets 401; an open portal lets it through unnamed, and the
// runtime asks writes for the token when there is one.
func (g *gate) api(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := httpx.BearerToken(r); tok != "" && g.Token != "" {
			if !httpx.TokenMatches(tok, g.Token) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="gradebook", error="invalid_token"`)
				httpx.Error(w, http.StatusUnauthorized, "the token is not valid")
				return
			}
			next.ServeHTTP(w, r.WithContext(withUser(r.Context(), APIUser)))
			return
		}
		if g.open() {
			next.ServeHTTP(w, r)
			return
		}
		if s, ok := g.session(r); ok {
			next.ServeHTTP(w, r.WithContext(withUser(r.Context(), s.User)))
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="gradebook"`)
		httpx.Error(w, http.StatusUnauthorized, "sign in to the portal, or send Authorization: Bearer <token>")
	})
}

// safeNext is where to go after signing in: next if it is a path on this site, else the list
// of students. Anything that a browser could read as another site (//host, /\host, a scheme)
// is refused, so the sign-in page cannot be used to send a teacher elsewhere.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || len(next) > 2048 {
		return defaultAfterSignIn
	}
	if strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\\\x00\r\n\t") {
		return defaultAfterSignIn
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return defaultAfterSignIn
	}
	if u.Path == "/login" || u.Path == "/logout" {
		return defaultAfterSignIn
	}
	return next
}

// loginPage is the sign-in form.
type loginPage struct {
	Nav, Username, Next, Error string
}

// signin serves GET /login, POST /login and POST /logout.
type signin struct {
	*gate
	pages *pages
}

func (s *signin) showLogin(w http.ResponseWriter, r *http.Request) {
	if s.open() {
		http.Redirect(w, r, defaultAfterSignIn, http.StatusSeeOther)
		return
	}
	s.pages.render(w, r, http.StatusOK, "login", loginPage{Nav: "login", Next: safeNext(r.URL.Query().Get("next"))})
}

func (s *signin) login(w http.ResponseWriter, r *http.Request) {
	if s.open() {
		http.Redirect(w, r, defaultAfterSignIn, http.StatusSeeOther)
		return
	}
	if !s.pages.parseForm(w, r) {
		return
	}
	name := r.PostFormValue("username")
	page := loginPage{Nav: "login", Username: name, Next: safeNext(r.PostFormValue("next"))}
	userKey, addrKey := "user:"+name, "addr:"+clientAddr(r)
	if len(name) > auth.MaxNameLen {
		// No one has such a name; counting them under one key keeps the counter's memory small
		// whatever is posted.
		page.Username, userKey = "", "user:(too long)"
	}
	now := s.Now()
	if wait := max(s.failures.Blocked(userKey, now), s.failures.Blocked(addrKey, now)); wait > 0 {
		secs := int((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		page.Error = "Too many failed sign-ins; try again in " + strconv.Itoa(secs) + " s."
		s.pages.render(w, r, http.StatusTooManyRequests, "login", page)
		return
	}
	if !s.Users.Check(name, r.PostFormValue("password")) {
		s.failures.Fail(userKey, now)
		s.failures.Fail(addrKey, now)
		log.With(level.Info(s.logger), requestid.LogFields(r.Context())...).Log("msg", "sign-in failed", "client", clientAddr(r))
		page.Error = "The name or the password is not right."
		s.pages.render(w, r, http.StatusUnauthorized, "login", page)
		return
	}
	s.failures.Reset(userKey)
	sess := auth.NewSession(name, now, s.TTL)
	value, err := s.Sealer.Seal(sess)
	if err != nil {
		s.pages.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: value, Path: "/",
		Expires: sess.ExpiresAt(), MaxAge: int(s.TTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteLaxMode,
		// Only the connection itself says it is TLS: a header saying so could come from anyone.
		Secure: r.TLS != nil,
	})
	log.With(level.Info(s.logger), requestid.LogFields(r.Context())...).Log("msg", "signed in", "user", name)
	http.Redirect(w, r, page.Next, http.StatusSeeOther)
}

func (s *signin) logout(w http.ResponseWriter, r *http.Request) {
	if sess, ok := s.session(r); ok {
		s.revoked.Revoke(sess, s.Now())
		log.With(level.Info(s.logger), requestid.LogFields(r.Context())...).Log("msg", "signed out", "user", sess.User)
	}
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil,
	})
	to := "/login"
	if s.open() {
		to = defaultAfterSignIn
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// clientAddr is the address the connection comes from. Forwarding headers are not read: any
// client could set them to dodge its limit.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// errNoSessionKey is Run's answer to -users without -session-key-file.
var errNoSessionKey = errors.New("-users needs -session-key-file: the key that seals session cookies, the same file for every portal instance (make one with: openssl rand -hex 32 > FILE)")

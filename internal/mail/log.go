package mail

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// logKeep is how many mails the log driver keeps for /dev/mail.
const logKeep = 100

// Logged is one mail the log driver took, as /dev/mail shows it.
type Logged struct {
	MessageID string    `json:"messageId"`
	To        string    `json:"to"`
	Subject   string    `json:"subject"`
	Text      string    `json:"text"`
	HTML      string    `json:"html"`
	SentAt    time.Time `json:"sentAt"`
}

// Log is development's transport: it logs each mail, with the link it
// carries, and keeps the last 100 for GET /dev/mail. Production refuses
// it: the log would hold live tokens.
type Log struct {
	logger *slog.Logger
	mu     sync.Mutex
	mails  []Logged // oldest first
}

// NewLog returns a log transport writing to logger.
func NewLog(logger *slog.Logger) *Log { return &Log{logger: logger} }

// Send logs msg and keeps it.
func (l *Log) Send(_ context.Context, msg *gomail.Msg) (string, error) {
	m := Logged{SentAt: time.Now().UTC()}
	if ids := msg.GetGenHeader(gomail.HeaderMessageID); len(ids) > 0 {
		m.MessageID = ids[0]
	}
	if to := msg.GetToString(); len(to) > 0 {
		m.To = strings.Trim(to[0], "<>")
	}
	if s := msg.GetGenHeader(gomail.HeaderSubject); len(s) > 0 {
		m.Subject = s[0]
	}
	for _, p := range msg.GetParts() {
		content, err := p.GetContent()
		if err != nil {
			return "", err
		}
		if p.GetContentType() == gomail.TypeTextHTML {
			m.HTML = string(content)
		} else {
			m.Text = string(content)
		}
	}
	l.logger.Info("mail", "to", m.To, "subject", m.Subject, "link", firstLink(m.Text), "message_id", m.MessageID)
	l.mu.Lock()
	l.mails = append(l.mails, m)
	if len(l.mails) > logKeep {
		l.mails = append([]Logged(nil), l.mails[len(l.mails)-logKeep:]...)
	}
	l.mu.Unlock()
	return "250 logged", nil
}

// firstLink is the first http(s) URL of text, "" when there is none.
func firstLink(text string) string {
	for _, f := range strings.Fields(text) {
		if strings.HasPrefix(f, "http://") || strings.HasPrefix(f, "https://") {
			return f
		}
	}
	return ""
}

// ServeHTTP answers GET /dev/mail?to=: the mails kept, newest first, only
// those to the address to when it is given, as JSON.
func (l *Log) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	to := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("to")))
	l.mu.Lock()
	out := make([]Logged, 0, len(l.mails))
	for i := len(l.mails) - 1; i >= 0; i-- {
		if to == "" || strings.EqualFold(l.mails[i].To, to) {
			out = append(out, l.mails[i])
		}
	}
	l.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(out)
}

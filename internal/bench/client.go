package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// Client posts GraphQL operations to one endpoint.
type Client struct {
	endpoint string
	http     *http.Client
	// replicas, when not nil, are endpoints the requests take in turn
	// instead of endpoint.
	replicas *replicas
}

// gqlRequest is a GraphQL request body.
type gqlRequest struct {
	Query     string         `json:"query"`
	Variables map[string]any `json:"variables,omitempty"`
}

// gqlResponse is a GraphQL response body; data stays raw until the caller
// decodes the field it asked for.
type gqlResponse struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []struct {
		Message    string `json:"message"`
		Extensions struct {
			Code string `json:"code"`
		} `json:"extensions"`
	} `json:"errors"`
}

// Do posts a GraphQL operation, with bearer as its access token when not
// empty, and decodes the root field field of its data into out. A request
// that completes with an error, an HTTP status other than 200 or an answer
// without field is a *RequestError; one cut off by ctx is ctx's error.
func (c *Client) Do(ctx context.Context, bearer, query string, vars map[string]any, field string, out any) error {
	body, err := json.Marshal(gqlRequest{Query: query, Variables: vars})
	if err != nil {
		return fmt.Errorf("encoding request: %w", err)
	}
	return c.post(ctx, bearer, body, field, out)
}

func (c *Client) post(ctx context.Context, bearer string, body []byte, field string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.target(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &RequestError{Kind: "transport", Detail: err.Error()}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &RequestError{Kind: "transport", Detail: err.Error()}
	}
	var r gqlResponse
	jsonErr := json.Unmarshal(raw, &r)
	if jsonErr == nil && len(r.Errors) > 0 {
		kind := r.Errors[0].Extensions.Code
		if kind == "" {
			kind = "graphql_error"
		}
		return &RequestError{Kind: kind, Detail: r.Errors[0].Message}
	}
	if resp.StatusCode != http.StatusOK {
		return &RequestError{Kind: fmt.Sprintf("http_%d", resp.StatusCode), Detail: string(bytes.TrimSpace(raw[:min(len(raw), 200)]))}
	}
	if jsonErr != nil {
		return &RequestError{Kind: "bad_response", Detail: jsonErr.Error()}
	}
	data, ok := r.Data[field]
	if !ok || bytes.Equal(data, []byte("null")) {
		return &RequestError{Kind: "bad_response", Detail: "no " + field + " in the answer"}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return &RequestError{Kind: "bad_response", Detail: err.Error()}
		}
	}
	return nil
}

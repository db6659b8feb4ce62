package bench

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/ent/refreshtoken"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/database"
	"github.com/latchkey/latchkey/internal/testdb"
)

// floorConfig is the service's configuration on databaseURI, with cheap
// password hashing.
func floorConfig(t *testing.T, databaseURI string) config.Config {
	t.Helper()
	env := map[string]string{
		"DATABASE_URI":              databaseURI,
		"PASSWORD_HASH_MEMORY":      "64",
		"PASSWORD_HASH_ITERATIONS":  "1",
		"PASSWORD_HASH_CONCURRENCY": "2",
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestFloorLogin(t *testing.T) {
	cfg := floorConfig(t, testdb.SQLiteMemory)
	res, err := FloorLogin(t.Context(), cfg, 3, 200*time.Millisecond, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors != 0 {
		t.Errorf("FloorLogin() = %d hashes, %d errors, want some and none", res.Requests, res.Errors)
	}
}

// TestFloorRefresh checks that the floor's rotations are real: every one
// it counts spent a token in the database and stored its successor.
func TestFloorRefresh(t *testing.T) {
	testdb.Each(t, func(t *testing.T, uri string) {
		if uri == testdb.SQLiteMemory {
			uri = testdb.SQLiteFile(t)
		}
		cfg := floorConfig(t, uri)
		res, err := FloorRefresh(t.Context(), cfg, 3, 300*time.Millisecond, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests == 0 || res.Errors != 0 {
			t.Fatalf("FloorRefresh() = %d rotations, %d errors %v, want some and none", res.Requests, res.Errors, res.ErrorsByCode)
		}
		_, client, err := database.Open(cfg.Database, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		spent, err := client.RefreshToken.Query().Where(refreshtoken.SpentAtNotNil()).Count(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		live, err := client.RefreshToken.Query().Where(refreshtoken.SpentAtIsNil()).Count(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		// A rotation cut off by the end of the run may have committed
		// without being counted.
		if int64(spent) < res.Requests || int64(spent) > res.Requests+3 || live != 3 {
			t.Errorf("after %d rotations by 3 workers: %d spent and %d live tokens, want as many spent and 3 live", res.Requests, spent, live)
		}
	})
}

// TestFloorServer loads me's floor handler with the me scenario, with its
// token and with a forged one, whose failures must all be counted.
func TestFloorServer(t *testing.T) {
	testdb.Each(t, func(t *testing.T, uri string) {
		cfg := floorConfig(t, uri)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		pr, pw := io.Pipe()
		served := make(chan error, 1)
		go func() { served <- FloorServer(ctx, cfg, ln, pw) }()
		t.Cleanup(func() {
			cancel()
			if err := <-served; err != nil {
				t.Errorf("FloorServer() = %v, want nil", err)
			}
		})
		line, err := bufio.NewReader(pr).ReadString('\n')
		f := strings.Fields(line)
		if err != nil || len(f) != 3 || f[0] != "floor" {
			t.Fatalf("FloorServer wrote %q, %v, want \"floor ADDR TOKEN\"", line, err)
		}
		url := "http://" + f[1]

		res, err := Run(t.Context(), Options{URL: url, Scenario: "me", Concurrency: 2, Duration: 200 * time.Millisecond, Token: f[2]})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests == 0 || res.Errors != 0 {
			t.Errorf("me floor = %d requests, %d errors %v, want some and none", res.Requests, res.Errors, res.ErrorsByCode)
		}

		res, err = Run(t.Context(), Options{URL: url, Scenario: "me", Concurrency: 2, Duration: 200 * time.Millisecond, Token: f[2] + "x"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests == 0 || res.Errors != res.Requests || res.ErrorsByCode["http_401"] != res.Requests {
			t.Errorf("me floor with a forged token = %d requests, errors %v, want every one http_401", res.Requests, res.ErrorsByCode)
		}
	})
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// uploadTimeout bounds one file's upload, answer included.
const uploadTimeout = 10 * time.Minute

// runUpload is "spano upload": a Micropub media client for scripts and for
// trying a deployment. It posts each file as multipart/form-data and
// prints the URL the endpoint answers with, one per line. A failed file
// does not stop the others; the command fails if any did.
func runUpload(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset, configPath := newFlags("upload", stderr)
	endpoint := fset.String("endpoint", "", "media endpoint `URL` (default base_url+endpoint_path of the config)")
	token := fset.String("token", "", "access `token` (default $SPANO_TOKEN)")
	if err := fset.Parse(args); err != nil {
		return err
	}
	if fset.NArg() == 0 {
		return errors.New("upload: no file given")
	}
	if *endpoint == "" || *token == "" {
		cfg, path, err := commandConfig(*configPath)
		if err != nil {
			return err
		}
		if *endpoint == "" {
			*endpoint = strings.TrimRight(cfg.BaseURL, "/") + cfg.EndpointPath
		}
		if *token == "" {
			*token = os.Getenv("SPANO_TOKEN")
		}
		if *token == "" && path == "" {
			// The embedded default keeps its token in a file; reading it
			// here lets "spano serve" and "spano upload" work together
			// with no setup.
			if b, err := os.ReadFile(filepath.Join(cfg.DataDir, "token")); err == nil {
				*token = strings.TrimSpace(string(b))
			}
		}
	}
	if *token == "" {
		return errors.New("upload: no token: use -token or set $SPANO_TOKEN")
	}

	client := &http.Client{Timeout: uploadTimeout}
	var errs []error
	for _, file := range fset.Args() {
		u, err := postFile(ctx, client, *endpoint, *token, file)
		if err != nil {
			fmt.Fprintf(stderr, "spano: upload %s: %v\n", file, err)
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(stdout, u)
	}
	if len(errs) > 0 {
		return fmt.Errorf("upload: %d of %d files failed", len(errs), fset.NArg())
	}
	return nil
}

// postFile streams file to the endpoint and returns the URL of the stored
// file.
func postFile(ctx context.Context, client *http.Client, endpoint, token, file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()

	// The body is written while it is sent, so a large file is never held
	// in memory.
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		part, err := mw.CreateFormFile("file", filepath.Base(file))
		if err == nil {
			_, err = io.Copy(part, f)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, pr)
	if err != nil {
		pr.Close()
		return "", err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return "", answerError(resp, body)
	}
	var ok struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(body, &ok); err == nil && ok.URL != "" {
		return ok.URL, nil
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		return loc, nil
	}
	return "", fmt.Errorf("%s: the answer has no URL", resp.Status)
}

// answerError describes a failed upload with the endpoint's Micropub
// error, and when to retry for a 503.
func answerError(resp *http.Response, body []byte) error {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	msg := resp.Status
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg += ": " + e.Error
		if e.Description != "" {
			msg += ": " + e.Description
		}
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		msg += " (retry after " + ra + " s)"
	}
	return errors.New(msg)
}

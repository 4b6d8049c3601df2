package repo

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"spano/internal/gittest"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshRemote serves git over SSH on loopback, as a forge does: it accepts
// one public key and runs the git-upload-pack / git-receive-pack command
// the client asks for. It returns the server's address and host key.
func sshRemote(t *testing.T, allowed ssh.PublicKey) (string, ssh.PublicKey) {
	t.Helper()
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	host, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
		if bytes.Equal(key.Marshal(), allowed.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("key not allowed")
	}}
	cfg.AddHostKey(host)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serveSSH(conn, cfg)
		}
	}()
	return ln.Addr().String(), host.PublicKey()
}

func serveSSH(conn net.Conn, cfg *ssh.ServerConfig) {
	defer conn.Close()
	_, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "session only")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go func() {
			defer ch.Close()
			for req := range chReqs {
				if req.Type != "exec" || len(req.Payload) < 4 {
					req.Reply(req.Type == "env", nil)
					continue
				}
				command := string(req.Payload[4:])
				req.Reply(true, nil)
				cmd := exec.Command("sh", "-c", command)
				cmd.Stdin, cmd.Stdout, cmd.Stderr = ch, ch, ch.Stderr()
				status := uint32(0)
				if err := cmd.Run(); err != nil {
					status = 1
				}
				var b [4]byte
				binary.BigEndian.PutUint32(b[:], status)
				ch.SendRequest("exit-status", false, b[:])
				return
			}
		}()
	}
}

func TestSSHRemoteWithKnownHosts(t *testing.T) {
	remote := gittest.NewRemote(t, nil)
	dir := t.TempDir()
	clientPub, clientPriv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(clientPriv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "id_ed25519")
	os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600)
	sshPub, _ := ssh.NewPublicKey(clientPub)

	addr, hostKey := sshRemote(t, sshPub)
	_, port, _ := net.SplitHostPort(addr)
	url := fmt.Sprintf("ssh://git@127.0.0.1:%s%s", port, remote)
	knownHosts := filepath.Join(dir, "known_hosts")
	os.WriteFile(knownHosts, []byte(knownhosts.Line([]string{addr}, hostKey)+"\n"), 0o600)

	t.Run("unknown host key", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "known_hosts")
		_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
		otherSigner, _ := ssh.NewSignerFromKey(otherPriv)
		os.WriteFile(other, []byte(knownhosts.Line([]string{addr}, otherSigner.PublicKey())+"\n"), 0o600)
		_, err := Open(context.Background(), Options{
			Path: filepath.Join(t.TempDir(), "clone.git"), Remote: url, SSHKey: keyFile, SSHKnownHosts: other,
		})
		if err == nil || !strings.Contains(err.Error(), "key mismatch") {
			t.Fatalf("Open with another host key in known_hosts: %v, want a key mismatch", err)
		}
	})
	t.Run("missing known_hosts", func(t *testing.T) {
		_, err := Open(context.Background(), Options{
			Path: filepath.Join(t.TempDir(), "clone.git"), Remote: url, SSHKey: keyFile,
		})
		if err == nil || !strings.Contains(err.Error(), "ssh_known_hosts") {
			t.Fatalf("Open without known_hosts: %v, want an error naming repo.ssh_known_hosts", err)
		}
	})

	r := open(t, Options{Remote: url, Push: PushSync, SSHKey: keyFile, SSHKnownHosts: knownHosts})
	file, path := media(t, 20_000)
	res, err := r.Commit(context.Background(), upload(file, path))
	if err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, remote, "rev-parse", "main"); got != res.Commit || !res.Pushed {
		t.Errorf("remote main = %s, Result = %+v", got, res)
	}
	gittest.Fsck(t, remote)
}

package stock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// identity is what the brokerIdentity files hold: brokerIdentity is
// "clusterName#brokerName#brokerId", brokerIdentity-temp adds
// "#registerCheckCode" while the id is being applied for.
type identity struct {
	cluster, group string
	id             int64
	code           string // only in the temp file
}

// identityStore keeps the two files in a directory, or in memory when
// the directory is "".
type identityStore struct {
	dir      string
	mem, tmp *identity // in memory
}

func (s *identityStore) path(temp bool) string {
	name := identityFileName
	if temp {
		name += "-temp"
	}
	return filepath.Join(s.dir, name)
}

// load reads the identity file, or the temp file when temp; found is
// false when it does not exist.
func (s *identityStore) load(temp bool) (id identity, found bool, err error) {
	if s.dir == "" {
		p := s.mem
		if temp {
			p = s.tmp
		}
		if p == nil {
			return identity{}, false, nil
		}
		return *p, true, nil
	}
	data, err := os.ReadFile(s.path(temp))
	if errors.Is(err, os.ErrNotExist) {
		return identity{}, false, nil
	}
	if err != nil {
		return identity{}, false, err
	}
	id, err = parseIdentity(strings.TrimSpace(string(data)), temp)
	if err != nil {
		return identity{}, false, fmt.Errorf("%s: %w", s.path(temp), err)
	}
	return id, true, nil
}

func parseIdentity(s string, temp bool) (identity, error) {
	parts := strings.Split(s, "#")
	want := 3
	if temp {
		want = 4
	}
	if len(parts) != want {
		return identity{}, fmt.Errorf("%q: want %d #-separated fields", s, want)
	}
	id, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || id <= 0 {
		return identity{}, fmt.Errorf("%q: bad brokerId", s)
	}
	out := identity{cluster: parts[0], group: parts[1], id: id}
	if temp {
		out.code = parts[3]
	}
	return out, nil
}

func (id identity) text(temp bool) string {
	s := fmt.Sprintf("%s#%s#%d", id.cluster, id.group, id.id)
	if temp {
		s += "#" + id.code
	}
	return s
}

// save writes the identity file, or the temp file, as MixAll.string2File
// does: delete, then write.
func (s *identityStore) save(id identity, temp bool) error {
	if s.dir == "" {
		if temp {
			s.tmp = &id
		} else {
			s.mem = &id
		}
		return nil
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return err
	}
	path := s.path(temp)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(id.text(temp)); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// removeTemp deletes the temp file.
func (s *identityStore) removeTemp() error {
	if s.dir == "" {
		s.tmp = nil
		return nil
	}
	if err := os.Remove(s.path(true)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

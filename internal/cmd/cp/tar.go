package cp

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// entryName checks a name from an archive or a checksum list and returns it cleaned and
// relative ("." for the top): absolute names and .. components are refused outright, so
// nothing can be placed outside the directory being extracted.
func entryName(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("an empty name in the archive")
	}
	if strings.HasPrefix(raw, "/") || filepath.IsAbs(raw) || filepath.VolumeName(raw) != "" {
		return "", fmt.Errorf("refusing the absolute path %q in the archive", raw)
	}
	var parts []string
	for c := range strings.SplitSeq(raw, "/") {
		switch c {
		case "", ".":
			continue
		case "..":
			return "", fmt.Errorf("refusing the path %q in the archive: it has a .. component", raw)
		}
		parts = append(parts, c)
	}
	if len(parts) == 0 {
		return ".", nil
	}
	n := strings.Join(parts, "/")
	if os.PathSeparator != '/' && strings.ContainsRune(n, os.PathSeparator) || !filepath.IsLocal(filepath.FromSlash(n)) {
		return "", fmt.Errorf("refusing the path %q in the archive", raw)
	}
	return n, nil
}

// entry is one item of a local tree to send.
type entry struct {
	rel  string // slash-separated, relative to the top; "." for the top
	path string
	info fs.FileInfo
	link string // a symbolic link's target
}

// scanTree lists the regular files, directories and symbolic links under root (a directory,
// not a link to one) and the size of the files. Anything else is passed to skip.
func scanTree(root string, skip func(path string)) ([]entry, int64, error) {
	var out []entry
	var total int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := entry{rel: filepath.ToSlash(rel), path: p, info: info}
		switch {
		case info.IsDir():
		case info.Mode().IsRegular():
			total += info.Size()
		case info.Mode()&fs.ModeSymlink != 0:
			if e.link, err = os.Readlink(p); err != nil {
				return err
			}
		default:
			skip(p)
			return nil
		}
		out = append(out, e)
		return nil
	})
	return out, total, err
}

// writeTree writes entries as a tar holding the tree under d/ and, last, the sums of its files
// in m, for uploadTreeScript. File data goes through count. It returns how many files it sent.
func writeTree(w io.Writer, entries []entry, count io.Writer) (int, error) {
	tw := tar.NewWriter(w)
	s := sums{}
	for _, e := range entries {
		name := "d"
		if e.rel != "." {
			name += "/" + e.rel
		}
		hdr := &tar.Header{
			Name:    name,
			Mode:    int64(e.info.Mode().Perm()),
			ModTime: e.info.ModTime().Truncate(time.Second),
			Format:  tar.FormatGNU, // long names that GNU tar and busybox both read
		}
		switch {
		case e.info.IsDir():
			hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
		case e.link != "":
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.link
		default:
			hdr.Typeflag, hdr.Size = tar.TypeReg, e.info.Size()
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return 0, fmt.Errorf("%s: %w", e.path, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		sum, err := sendFile(tw, e.path, hdr.Size, count)
		if err != nil {
			return 0, err
		}
		s[e.rel] = sum
	}
	m := s.marshal()
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "m", Size: int64(len(m)), Mode: 0o600,
		ModTime: time.Now().Truncate(time.Second), Format: tar.FormatGNU}); err != nil {
		return 0, err
	}
	if _, err := tw.Write(m); err != nil {
		return 0, err
	}
	return len(s), tw.Close()
}

// sendFile copies exactly size bytes of the file at p (as its header said) and returns their
// SHA-256: the hash is of what was sent, even if the file changes meanwhile.
func sendFile(w io.Writer, p string, size int64, count io.Writer) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(w, h, count), f, size); err != nil {
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("%s: the file shrank while it was being sent", p)
		}
		return "", fmt.Errorf("%s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// extractTree reads a tar into root and returns the sums of the regular files it wrote. Names
// are checked by entryName, and root (an os.Root) refuses to follow a symbolic link out of
// itself, so a link in the archive that points outside can be created but never written
// through. File modes get the umask mask; directories get theirs, and their times, last.
func extractTree(r io.Reader, root *os.Root, mask fs.FileMode, count io.Writer) (sums, error) {
	type dirMeta struct {
		name  string
		mode  fs.FileMode
		mtime time.Time
	}
	dirs := map[string]dirMeta{".": {name: ".", mode: 0o777}}
	got := sums{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the archive: %w", err)
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return nil, err
		}
		mode := fs.FileMode(hdr.Mode) & fs.ModePerm
		if name == "." && hdr.Typeflag != tar.TypeDir {
			return nil, fmt.Errorf("refusing %q in the archive: not a directory", hdr.Name)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if name != "." {
				if err := makeDir(root, name); err != nil {
					return nil, err
				}
			}
			dirs[name] = dirMeta{name, mode, hdr.ModTime}
		case tar.TypeReg, tar.TypeGNUSparse:
			if err := clearFor(root, name); err != nil {
				return nil, err
			}
			sum, err := writeFile(root, name, mode, tr, count)
			if err != nil {
				return nil, err
			}
			if err := root.Chtimes(name, hdr.ModTime, hdr.ModTime); err != nil {
				return nil, err
			}
			got[name] = sum
		case tar.TypeSymlink:
			if err := clearFor(root, name); err != nil {
				return nil, err
			}
			if err := root.Symlink(hdr.Linkname, name); err != nil {
				return nil, err
			}
		case tar.TypeLink:
			old, err := entryName(hdr.Linkname)
			if err != nil {
				return nil, err
			}
			if err := clearFor(root, name); err != nil {
				return nil, err
			}
			if err := root.Link(old, name); err != nil {
				return nil, err
			}
			if sum, ok := got[old]; ok {
				got[name] = sum
			}
		default: // devices, FIFOs and the like are not copied
		}
	}
	// Deepest first, so that a directory's time is set after its contents are in place.
	order := make([]dirMeta, 0, len(dirs))
	for _, d := range dirs {
		order = append(order, d)
	}
	sort.Slice(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if (a.name == ".") != (b.name == ".") {
			return b.name == "."
		}
		if da, db := strings.Count(a.name, "/"), strings.Count(b.name, "/"); da != db {
			return da > db
		}
		return a.name < b.name
	})
	for _, d := range order {
		if err := root.Chmod(d.name, d.mode&^mask); err != nil {
			return nil, err
		}
		if !d.mtime.IsZero() {
			if err := root.Chtimes(d.name, d.mtime, d.mtime); err != nil {
				return nil, err
			}
		}
	}
	return got, nil
}

// makeDir creates name (and its parents) in root, replacing a non-directory in the way.
func makeDir(root *os.Root, name string) error {
	if fi, err := root.Lstat(name); err == nil {
		if fi.IsDir() {
			return nil
		}
		if err := root.Remove(name); err != nil {
			return err
		}
	}
	return root.MkdirAll(name, 0o777)
}

// clearFor makes way for a file or link called name: its parents exist, and no earlier entry
// of that name remains to be written through.
func clearFor(root *os.Root, name string) error {
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o777); err != nil {
			return err
		}
	}
	fi, err := root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("%s: a directory is in the way", name)
	}
	return root.Remove(name)
}

func writeFile(root *os.Root, name string, mode fs.FileMode, r io.Reader, count io.Writer) (string, error) {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h, count), r); err != nil {
		f.Close()
		return "", fmt.Errorf("%s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

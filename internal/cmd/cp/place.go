package cp

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// place moves the checked temporary (a name in dir) to final, also in dir: it renames it, or,
// for a directory onto an existing one, merges it in as cp -r does. It works through an
// os.Root on dir and follows no link already there: a file replaces a link of its name, and a
// link where the copy has a directory is refused.
func place(rec *received, dir, final string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tmp := filepath.Base(rec.tmp)
	shown := filepath.Join(dir, final)
	fi, err := root.Lstat(final)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	switch {
	case rec.hdr.kind == 'f' && exists && fi.IsDir():
		return fmt.Errorf("%s: is a directory", shown)
	case rec.hdr.kind == 'd' && exists && fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s: is a symbolic link, not a directory; not following it", shown)
	case rec.hdr.kind == 'd' && exists && !fi.IsDir():
		return fmt.Errorf("%s: exists and is not a directory", shown)
	case rec.hdr.kind == 'd' && exists:
		if err := merge(root, tmp, final, dir); err != nil {
			return err
		}
		return root.RemoveAll(tmp)
	}
	return root.Rename(tmp, final)
}

// merge moves the tree src into the existing directory dst, both names in root: a directory
// that dst lacks is renamed in whole, an existing one is merged into, and files and links
// replace their namesakes. Existing directories keep their own mode and times. Every
// conflict is found before anything moves, so a refused merge changes nothing; a link where
// the tree has a directory is one (it is not followed, even to somewhere inside root). shown
// is root's local path, for messages.
func merge(root *os.Root, src, dst, shown string) error {
	type move struct{ from, to string }
	var moves []move
	err := fs.WalkDir(root.FS(), src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == src {
			return err
		}
		target := path.Join(dst, strings.TrimPrefix(p, src+"/"))
		where := filepath.Join(shown, filepath.FromSlash(target))
		ti, err := root.Lstat(target)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			moves = append(moves, move{p, target})
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		case err != nil:
			return err
		case d.IsDir() && ti.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("%s: is a symbolic link, not a directory; not following it", where)
		case d.IsDir() && !ti.IsDir():
			return fmt.Errorf("%s: exists and is not a directory", where)
		case d.IsDir():
			return nil
		case ti.IsDir():
			return fmt.Errorf("%s: is a directory", where)
		}
		moves = append(moves, move{p, target})
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range moves {
		if err := root.Rename(m.from, m.to); err != nil {
			return err
		}
	}
	return nil
}

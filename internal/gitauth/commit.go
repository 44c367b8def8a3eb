package gitauth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// keepOnlyMain makes main the bare repository's only branch and its HEAD.
// gittestserver's InitRepo commits on master, branches main off it and
// pushes both, leaving HEAD at master: a clone without a branch, or a
// GitRepository without a ref (Flux then asks for master), would get a
// branch that Commit never moves.
func keepOnlyMain(bareDir string) error {
	repo, err := gogit.PlainOpen(bareDir)
	if err != nil {
		return err
	}
	main := plumbing.NewBranchReferenceName(branch)
	if err := repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, main)); err != nil {
		return fmt.Errorf("pointing HEAD at %s: %w", branch, err)
	}
	if err := repo.Storer.RemoveReference(plumbing.Master); err != nil {
		return fmt.Errorf("removing master: %w", err)
	}
	return nil
}

// cloneForCommits clones the bare repository's main branch into workDir.
// Commit pushes from there through the file system, so adding a commit
// needs no credentials and does not show in the servers' logs.
func cloneForCommits(bareDir, workDir string) error {
	_, err := gogit.PlainClone(workDir, false, &gogit.CloneOptions{
		URL:           bareDir,
		ReferenceName: plumbing.NewBranchReferenceName(branch),
		SingleBranch:  true,
	})
	if err != nil {
		return fmt.Errorf("cloning the served repository for commits: %w", err)
	}
	return nil
}

// Commit writes files (slash-separated paths relative to the repository
// root; nil content deletes the file), commits them to main and pushes, so
// the next fetch over HTTP or SSH sees them. It returns the new commit's
// hash.
func (s *Server) Commit(files map[string][]byte, message string) (string, error) {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	repo, err := gogit.PlainOpen(s.workDir)
	if err != nil {
		return "", err
	}
	worktree, err := repo.Worktree()
	if err != nil {
		return "", err
	}
	for name, content := range files {
		if err := stage(worktree, s.workDir, name, content); err != nil {
			return "", fmt.Errorf("gitauth commit: %s: %w", name, err)
		}
	}
	hash, err := worktree.Commit(message, &gogit.CommitOptions{
		Author:            &object.Signature{Name: "kubectl-tenant test", Email: "test@kubectl-tenant.invalid", When: time.Now()},
		AllowEmptyCommits: true,
	})
	if err != nil {
		return "", fmt.Errorf("gitauth commit: %w", err)
	}
	refspec := config.RefSpec("refs/heads/" + branch + ":refs/heads/" + branch)
	if err := repo.Push(&gogit.PushOptions{RefSpecs: []config.RefSpec{refspec}}); err != nil {
		return "", fmt.Errorf("gitauth commit: pushing: %w", err)
	}
	return hash.String(), nil
}

// stage writes or deletes one file in the work tree and stages the change.
func stage(worktree *gogit.Worktree, workDir, name string, content []byte) error {
	rel := filepath.FromSlash(name)
	if !filepath.IsLocal(rel) {
		return errors.New("the path is outside the repository")
	}
	path := filepath.Join(workDir, rel)
	rel = filepath.ToSlash(filepath.Clean(rel))
	if content == nil {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		_, err := worktree.Remove(rel)
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(path, content, 0o644); err != nil {
		return err
	}
	_, err := worktree.Add(rel)
	return err
}

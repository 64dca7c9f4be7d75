import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, realpathSync, rmSync, unlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { changedFilesSince, NoMergeBase, NotAGitRepository, UnknownGitRef } from "./GitChanges.ts"

const git = (cwd: string, ...args: Array<string>): string =>
  execFileSync("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", ...args], {
    cwd,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"]
  })

const write = (root: string, file: string, text: string) => {
  mkdirSync(dirname(join(root, file)), { recursive: true })
  writeFileSync(join(root, file), text)
}

const changed = (ref: string, cwd: string) => Effect.runPromise(changedFilesSince(ref, cwd))
const failure = async (ref: string, cwd: string) => {
  const result = await Effect.runPromise(Effect.result(changedFilesSince(ref, cwd)))
  if (Result.isSuccess(result)) throw new Error(`expected a failure, found ${[...result.success.files]}`)
  return result.failure
}

let tmp: string
let repo: string
let relative: (files: Iterable<string>) => Array<string>

beforeAll(() => {
  tmp = realpathSync(mkdtempSync(join(tmpdir(), "materia-git-")))
  repo = join(tmp, "repo")
  mkdirSync(repo)
  git(repo, "init", "--quiet", "--initial-branch=main")
  for (const f of ["base.ts", "committed.ts", "main-only.ts", "staged.ts", "unstaged.ts", "deleted.ts"])
    write(repo, f, `export const ${f.replace(/\W/g, "_")} = 1\n`)
  write(repo, "old-name.ts", "export const renamed = 1\n")
  write(repo, "sub/dir/nested.ts", "export const nested = 1\n")
  write(repo, ".gitignore", "*.log\n")
  git(repo, "add", ".")
  git(repo, "commit", "--quiet", "-m", "base")
  // main moves on after the branch point: its changes are not the branch's
  git(repo, "checkout", "--quiet", "-b", "feature")
  git(repo, "checkout", "--quiet", "main")
  write(repo, "main-only.ts", "export const mainOnly = 2\n")
  git(repo, "commit", "--quiet", "-am", "main moves on")
  git(repo, "checkout", "--quiet", "feature")
  write(repo, "committed.ts", "export const committed = 2\n")
  write(repo, "sub/dir/nested.ts", "export const nested = 2\n")
  write(repo, "ünï cödé.ts", "export const spaced = 1\n")
  git(repo, "mv", "old-name.ts", "new-name.ts")
  git(repo, "rm", "--quiet", "deleted.ts")
  git(repo, "add", ".")
  git(repo, "commit", "--quiet", "-m", "feature work")
  // uncommitted: staged, unstaged, untracked, ignored
  write(repo, "staged.ts", "export const staged = 2\n")
  git(repo, "add", "staged.ts")
  write(repo, "unstaged.ts", "export const unstaged = 2\n")
  write(repo, "untracked.ts", "export const untracked = 1\n")
  write(repo, "sub/untracked-nested.ts", "export const untrackedNested = 1\n")
  write(repo, "debug.log", "ignored\n")
  relative = (files) => [...files].map((f) => f.slice(repo.length + 1)).sort()
})

afterAll(() => rmSync(tmp, { recursive: true, force: true }))

describe("changedFilesSince", () => {
  it("lists files changed since the merge base, committed, staged, unstaged and untracked, as absolute paths", async () => {
    const changes = await changed("main", repo)
    expect(changes.root).toBe(repo)
    expect(changes.mergeBase).toBe(git(repo, "merge-base", "main", "HEAD").trim())
    expect([...changes.files].every((f) => f.startsWith(`${repo}/`))).toBe(true)
    expect(relative(changes.files)).toEqual([
      "committed.ts",
      "deleted.ts",
      "new-name.ts",
      "old-name.ts",
      "staged.ts",
      "sub/dir/nested.ts",
      "sub/untracked-nested.ts",
      "unstaged.ts",
      "untracked.ts",
      "ünï cödé.ts"
    ])
  })

  it("gives the same absolute paths from a subfolder, and accepts ref expressions", async () => {
    const fromSub = await changed("main", join(repo, "sub", "dir"))
    expect(relative(fromSub.files)).toEqual(relative((await changed("main", repo)).files))
    // HEAD~1 is the branch point: its merge base with HEAD is itself
    const sinceParent = await changed("HEAD~1", repo)
    expect(sinceParent.mergeBase).toBe(git(repo, "rev-parse", "HEAD~1").trim())
    // since HEAD: only the uncommitted changes
    expect(relative((await changed("HEAD", repo)).files)).toEqual([
      "staged.ts",
      "sub/untracked-nested.ts",
      "unstaged.ts",
      "untracked.ts"
    ])
  })

  it("lists a staged new file and drops a file whose edit was undone", async () => {
    const clone = join(tmp, "staged-new")
    git(tmp, "clone", "--quiet", repo, clone)
    write(clone, "fresh.ts", "export const fresh = 1\n")
    git(clone, "add", "fresh.ts")
    const files = [...(await changed("HEAD", clone)).files].map((f) => f.slice(clone.length + 1))
    expect(files).toEqual(["fresh.ts"])
    unlinkSync(join(clone, "fresh.ts"))
    git(clone, "rm", "--quiet", "--cached", "fresh.ts")
    expect((await changed("HEAD", clone)).files.size).toBe(0)
  })

  it("fails with NotAGitRepository outside a working tree", async () => {
    const plain = join(tmp, "plain")
    mkdirSync(plain)
    const error = await failure("main", plain)
    expect(error).toBeInstanceOf(NotAGitRepository)
    expect(error.message).toContain(`"${plain}" is not inside a git working tree`)
    expect(error.message).toContain("not a git repository")
  })

  it("fails with UnknownGitRef naming the ref and how to fetch it", async () => {
    const error = await failure("origin/mian", repo)
    expect(error).toBeInstanceOf(UnknownGitRef)
    expect(error.message).toContain(`git knows no commit "origin/mian" in ${repo}`)
    expect(error.message).toContain("git branch -a")
    expect((error as UnknownGitRef).shallow).toBe(false)
  })

  it("fails with NoMergeBase for unrelated histories", async () => {
    const orphan = join(tmp, "orphan")
    git(tmp, "clone", "--quiet", repo, orphan)
    git(orphan, "checkout", "--quiet", "--orphan", "unrelated")
    git(orphan, "commit", "--quiet", "-m", "unrelated root")
    const error = await failure("origin/main", orphan)
    expect(error).toBeInstanceOf(NoMergeBase)
    expect(error.message).toContain('"origin/main" and HEAD have no common ancestor')
    expect(error.message).toContain("unrelated histories")
  })

  it("in a shallow clone, says to fetch the history or the ref, then works once fetched", async () => {
    const shallow = join(tmp, "shallow")
    git(tmp, "clone", "--quiet", "--depth", "1", "--branch", "feature", `file://${repo}`, shallow)
    const unknown = await failure("origin/main", shallow)
    expect(unknown).toBeInstanceOf(UnknownGitRef)
    expect((unknown as UnknownGitRef).shallow).toBe(true)
    expect(unknown.message).toContain("this is a shallow clone")
    expect(unknown.message).toContain("fetch-depth: 0")
    const advice = "git fetch --unshallow origin main:refs/remotes/origin/main"
    expect(unknown.message).toContain(advice)
    // a bare `git fetch origin main` does not create origin/main in a single-branch clone
    git(shallow, "fetch", "--quiet", "--depth", "1", "origin", "main")
    expect(await failure("origin/main", shallow)).toBeInstanceOf(UnknownGitRef)

    const cut = join(tmp, "shallow-cut")
    git(tmp, "clone", "--quiet", "--depth", "1", "--branch", "feature", `file://${repo}`, cut)
    git(cut, "fetch", "--quiet", "--depth", "1", "origin", "main:refs/remotes/origin/main")
    const noBase = await failure("origin/main", cut)
    expect(noBase).toBeInstanceOf(NoMergeBase)
    expect(noBase.message).toContain("shallow clone")
    expect(noBase.message).toContain("fetch-depth: 0, or git fetch --unshallow")

    // the advice, followed as written, works
    git(shallow, ...advice.split(" ").slice(1), "--quiet")
    const changes = await changed("origin/main", shallow)
    expect([...changes.files].map((f) => f.slice(shallow.length + 1)).sort()).toEqual([
      "committed.ts",
      "deleted.ts",
      "new-name.ts",
      "old-name.ts",
      "sub/dir/nested.ts",
      "ünï cödé.ts"
    ])
  })
})

/**
 * The git half of `changed-since:<ref>` selections: the files of a checkout that changed since the
 * merge base of a ref and HEAD, committed or not, as absolute paths. Runs `git` with `execFile`
 * (no shell); every failure is a tagged error that says how to fix it (fetch the ref, unshallow).
 */
import { execFile } from "node:child_process"
import { realpath } from "node:fs/promises"
import { join } from "node:path"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"

/** What git found changed since a ref. */
export interface GitChanges {
  /** The ref as the user wrote it. */
  readonly ref: string
  /** The commit both the ref and HEAD descend from (full hash). */
  readonly mergeBase: string
  /** The top folder of the working tree (a real path). */
  readonly root: string
  /** Absolute paths of every file changed since the merge base, committed or not. */
  readonly files: ReadonlySet<string>
}

/** The folder is not inside a git working tree (or git refuses it, e.g. `safe.directory`). */
export class NotAGitRepository extends Data.TaggedError("NotAGitRepository")<{
  readonly directory: string
  readonly detail: string
}> {
  override get message(): string {
    return (
      `changed-since: "${this.directory}" is not inside a git working tree (git said: ${this.detail}); ` +
      "run materia from a git checkout of the project, or select assets without changed-since:"
    )
  }
}

/** The ref names no commit in this clone. */
export class UnknownGitRef extends Data.TaggedError("UnknownGitRef")<{
  readonly ref: string
  readonly root: string
  /** The clone is shallow (e.g. GitHub Actions' checkout with its default `fetch-depth: 1`). */
  readonly shallow: boolean
  /** The command that would fetch it, e.g. `git fetch origin main`. */
  readonly fetch: string
}> {
  override get message(): string {
    const head = `changed-since:${this.ref}: git knows no commit "${this.ref}" in ${this.root}`
    return this.shallow
      ? `${head}; this is a shallow clone, which lacks other branches and the history: fetch them ` +
          `(actions/checkout with fetch-depth: 0, or ${this.fetch})`
      : `${head}; fetch it (${this.fetch}) or check its spelling (git branch -a lists the branches)`
  }
}

/** The ref and HEAD share no commit (unrelated histories, or a shallow clone cut it off). */
export class NoMergeBase extends Data.TaggedError("NoMergeBase")<{
  readonly ref: string
  readonly root: string
  readonly shallow: boolean
}> {
  override get message(): string {
    const head = `changed-since:${this.ref}: "${this.ref}" and HEAD have no common ancestor in ${this.root}`
    return this.shallow
      ? `${head}; this is a shallow clone, so the merge base was not fetched: fetch the full history ` +
          "(actions/checkout with fetch-depth: 0, or git fetch --unshallow)"
      : `${head} (unrelated histories); compare against a ref that HEAD branched from`
  }
}

/** git could not run, or failed in a way the other errors do not describe. */
export class GitCommandFailed extends Data.TaggedError("GitCommandFailed")<{
  readonly command: string
  readonly directory: string
  readonly detail: string
}> {
  override get message(): string {
    return `changed-since: \`${this.command}\` failed in ${this.directory}: ${this.detail}`
  }
}

export type GitChangesError = NotAGitRepository | UnknownGitRef | NoMergeBase | GitCommandFailed

interface GitOutput {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs `git args` in `cwd`. A non-zero exit is a result, not a failure; a git that cannot start is. */
const git = (cwd: string, args: ReadonlyArray<string>): Effect.Effect<GitOutput, GitCommandFailed> =>
  Effect.callback<GitOutput, GitCommandFailed>((resume, signal) => {
    execFile(
      "git",
      ["--no-optional-locks", ...args],
      { cwd, signal, encoding: "utf8", maxBuffer: 256 * 1024 * 1024, windowsHide: true },
      (error, stdout, stderr) => {
        if (signal.aborted) return
        const code = error === null ? 0 : (error as { code?: unknown }).code
        if (typeof code === "number") return resume(Effect.succeed({ code, stdout, stderr }))
        resume(
          Effect.fail(
            new GitCommandFailed({
              command: `git ${args.join(" ")}`,
              directory: cwd,
              detail:
                code === "ENOENT"
                  ? "git is not installed or not on PATH"
                  : (error?.message ?? "unknown error")
            })
          )
        )
      }
    )
  })

const firstLine = (text: string): string => text.trim().split("\n")[0] ?? ""

const paths = (root: string, output: string): Array<string> =>
  output
    .split("\0")
    .filter((p) => p !== "")
    .map((p) => join(root, p))

const ensure = (
  out: GitOutput,
  cwd: string,
  args: ReadonlyArray<string>
): Effect.Effect<GitOutput, GitCommandFailed> =>
  out.code === 0
    ? Effect.succeed(out)
    : Effect.fail(
        new GitCommandFailed({
          command: `git ${args.join(" ")}`,
          directory: cwd,
          detail: firstLine(out.stderr) || `exit code ${out.code}`
        })
      )

const run = (cwd: string, args: ReadonlyArray<string>) =>
  Effect.flatMap(git(cwd, args), (o) => ensure(o, cwd, args))

const isShallow = (root: string) =>
  Effect.map(git(root, ["rev-parse", "--is-shallow-repository"]), (o) => o.stdout.trim() === "true")

/**
 * The command that fetches `ref` (with its history when `shallow`). A remote-tracking ref gets an
 * explicit refspec: `git fetch origin main` alone does not create `origin/main` in a single-branch
 * clone (what a shallow clone is by default).
 */
const fetchCommand = (root: string, ref: string, shallow: boolean) =>
  Effect.map(git(root, ["remote"]), (o) => {
    const remotes = o.stdout.split("\n").filter((r) => r !== "")
    const fetch = shallow ? "git fetch --unshallow" : "git fetch"
    const remote = remotes.find((r) => ref.startsWith(`${r}/`))
    if (remote !== undefined) return `${fetch} ${remote} ${ref.slice(remote.length + 1)}:refs/remotes/${ref}`
    return `${fetch} ${remotes.includes("origin") ? "origin" : (remotes[0] ?? "<remote>")} ${ref}`
  })

/**
 * The files changed since the merge base of `ref` and HEAD, in the git working tree that holds
 * `directory`: files that differ between the merge base and HEAD, plus uncommitted changes (staged,
 * unstaged, and untracked files that are not ignored). Absolute paths under the working tree's real
 * path; deleted and renamed files appear under their old and new names.
 */
export const changedFilesSince = (
  ref: string,
  directory: string
): Effect.Effect<GitChanges, GitChangesError> =>
  Effect.gen(function* () {
    const top = yield* git(directory, ["rev-parse", "--show-toplevel"])
    if (top.code !== 0 || top.stdout.trim() === "")
      return yield* new NotAGitRepository({
        directory,
        detail: firstLine(top.stderr) || "no working tree"
      })
    const root = yield* Effect.tryPromise({
      try: () => realpath(top.stdout.trim()),
      catch: (e) =>
        new GitCommandFailed({ command: "git rev-parse --show-toplevel", directory, detail: String(e) })
    })
    if (ref === "" || ref.startsWith("-"))
      return yield* new UnknownGitRef({ ref, root, shallow: false, fetch: "git fetch origin <branch>" })
    const commit = yield* git(root, [
      "rev-parse",
      "--verify",
      "--quiet",
      "--end-of-options",
      `${ref}^{commit}`
    ])
    if (commit.code !== 0) {
      const shallow = yield* isShallow(root)
      return yield* new UnknownGitRef({ ref, root, shallow, fetch: yield* fetchCommand(root, ref, shallow) })
    }
    const base = yield* git(root, ["merge-base", commit.stdout.trim(), "HEAD"])
    if (base.code !== 0) return yield* new NoMergeBase({ ref, root, shallow: yield* isShallow(root) })
    const mergeBase = base.stdout.trim()
    const diff = ["diff", "--name-only", "--no-renames", "--no-ext-diff", "--no-textconv", "-z"]
    const listings = yield* Effect.all(
      [
        run(root, [...diff, mergeBase, "HEAD", "--"]),
        run(root, [...diff, "HEAD", "--"]),
        run(root, ["ls-files", "--others", "--exclude-standard", "--full-name", "-z"])
      ],
      { concurrency: "unbounded" }
    )
    const files = new Set<string>()
    for (const listing of listings) for (const path of paths(root, listing.stdout)) files.add(path)
    return { ref, mergeBase, root, files }
  })

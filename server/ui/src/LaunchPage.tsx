/** Launching a materialization of any selection (`/launch?select=...`). */
import { LaunchForm } from "./LaunchForm.tsx"
import { Link } from "./Router.tsx"

export const LaunchPage = (props: { readonly select: string }) => (
  <div className="page narrow">
    <h1>Launch a materialization</h1>
    <p className="muted">
      Stale and missing assets upstream of the selection are planned too. The syntax is that of{" "}
      <code>materia materialize --select</code>; try it on the <Link to="/">graph</Link> first.
    </p>
    <LaunchForm key={props.select} select={props.select} />
  </div>
)

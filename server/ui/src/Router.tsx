/**
 * A small client-side router over the History API: the current location as React state, `navigate`
 * and `<Link>`. The server answers every non-API path with index.html, so deep links work.
 */
import { type MouseEvent, type ReactNode, useEffect, useState } from "react"

export interface Location {
  readonly path: string
  readonly search: URLSearchParams
}

const current = (): Location => ({
  path: window.location.pathname,
  search: new URLSearchParams(window.location.search)
})

const listeners = new Set<() => void>()

/** Goes to `to` (a path with an optional query) without reloading the page. */
export const navigate = (to: string, options: { readonly replace?: boolean } = {}): void => {
  if (options.replace === true) window.history.replaceState(null, "", to)
  else window.history.pushState(null, "", to)
  for (const listener of listeners) listener()
}

/** The current location; re-renders on navigation and on the browser's back and forward. */
export const useLocation = (): Location => {
  const [location, setLocation] = useState(current)
  useEffect(() => {
    const update = () => setLocation(current())
    listeners.add(update)
    window.addEventListener("popstate", update)
    return () => {
      listeners.delete(update)
      window.removeEventListener("popstate", update)
    }
  }, [])
  return location
}

/** An anchor that navigates in place (a modified click still opens a new tab). */
export const Link = (props: {
  readonly to: string
  readonly children: ReactNode
  readonly className?: string
  readonly title?: string
}) => {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
    event.preventDefault()
    navigate(props.to)
  }
  return (
    <a href={props.to} onClick={onClick} className={props.className} title={props.title}>
      {props.children}
    </a>
  )
}

/** The path of an asset's page. */
export const assetPath = (key: string): string => `/asset/${encodeURIComponent(key)}`

/** The path of a run's page. */
export const runPath = (runId: string): string => `/runs/${encodeURIComponent(runId)}`

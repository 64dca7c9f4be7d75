/**
 * How failures reach the user: `ErrorBanner` shows an API error (status, code, message) where the
 * data would have been, and `ErrorBoundary` turns a rendering crash into a message, never a blank page.
 */
import { Component, type ErrorInfo, type ReactNode } from "react"
import { ApiError } from "./Api.ts"

const describe = (error: unknown): { title: string; message: string } => {
  if (error instanceof ApiError)
    return {
      title: error.status === 0 ? "Server unreachable" : `Error ${error.status} (${error.code})`,
      message: error.message
    }
  if (error instanceof Error) return { title: error.name, message: error.message }
  return { title: "Error", message: String(error) }
}

export const ErrorBanner = (props: { readonly error: unknown; readonly onRetry?: () => void }) => {
  if (props.error === undefined || props.error === null) return null
  const { title, message } = describe(props.error)
  return (
    <div className="error" role="alert">
      <strong>{title}</strong>
      <span className="error-message">{message}</span>
      {props.onRetry === undefined ? null : (
        <button type="button" onClick={props.onRetry}>
          Retry
        </button>
      )}
    </div>
  )
}

interface BoundaryState {
  readonly error: unknown
}

export class ErrorBoundary extends Component<
  { readonly children: ReactNode; readonly resetKey: string },
  BoundaryState
> {
  override state: BoundaryState = { error: undefined }

  static getDerivedStateFromError(error: unknown): BoundaryState {
    return { error }
  }

  override componentDidCatch(error: unknown, info: ErrorInfo): void {
    console.error("the page failed to render", error, info.componentStack)
  }

  override componentDidUpdate(previous: { readonly resetKey: string }): void {
    if (previous.resetKey !== this.props.resetKey && this.state.error !== undefined)
      this.setState({ error: undefined })
  }

  override render(): ReactNode {
    if (this.state.error === undefined) return this.props.children
    return (
      <div className="page">
        <h1>This page failed</h1>
        <ErrorBanner error={this.state.error} onRetry={() => this.setState({ error: undefined })} />
      </div>
    )
  }
}

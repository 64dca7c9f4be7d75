/** The entry point of the web UI: mounts the app in #root. */
import { StrictMode } from "react"
import { createRoot } from "react-dom/client"
import { App } from "./App.tsx"
import { prepareLayout } from "./Layout.ts"

// Opening on the graph: elk's worker starts loading before React's first render.
if (window.location.pathname === "/") prepareLayout()

const root = document.getElementById("root")
if (root === null) throw new Error("index.html has no #root element")
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>
)

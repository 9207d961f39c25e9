import { launch } from "./launch";

// `npm run dev`: the same start-up as `npm start`, with Next's dev server.
await launch("development");

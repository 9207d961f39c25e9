import { launch } from "./launch";

// `npm start`: serves the production build (built on first start if missing); PORT is respected.
await launch("production");

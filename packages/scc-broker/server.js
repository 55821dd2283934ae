#!/usr/bin/env node
// `node server` entry: runs the compiled service (built by `pnpm install` / `pnpm build`).
import "./dist/server.js";

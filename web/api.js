// api.js - talking JSON to the server; errors carry problem+json's detail.

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

// api(path, {method, body}) -> parsed JSON (or null); throws ApiError.
export async function api(path, { method = "GET", body } = {}) {
  const init = { method, cache: "no-store", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(path, init);
  } catch {
    throw new ApiError(0, "the server cannot be reached");
  }
  const type = r.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await r.json().catch(() => null) : null;
  if (!r.ok) throw new ApiError(r.status, data?.detail || `${r.status} ${r.statusText}`);
  return data;
}

// The server's rules for symbols; the defaults match a server without
// GET /api/config.
const DEFAULTS = {
  max_symbols: null, symbol_max_len: 32, max_body_size: null,
  symbol_pattern: "^[A-Za-z0-9^][A-Za-z0-9._^=-]{0,31}$",
};
let configP = null;
export function config() {
  configP ??= api("/api/config").then((c) => ({ ...DEFAULTS, ...c }), () => {
    configP = null;
    return DEFAULTS;
  });
  return configP;
}

export const fileUrl = (id, sym) => `/api/jobs/${id}/files/${encodeURIComponent(sym)}.xml`;
export const archiveUrl = (name) => `/archives/${encodeURIComponent(name)}`;

// The one way the console reaches the service: the public /v1 API, with the admin's key.
// The key lives in sessionStorage only (this tab, until it closes or the admin signs out):
// never a cookie, never in a URL, never written to the console or a log.

const KEY_NAME = "agent-console.key";

export function getKey() {
  return sessionStorage.getItem(KEY_NAME);
}

export function setKey(key) {
  sessionStorage.setItem(KEY_NAME, key);
}

export function clearKey() {
  sessionStorage.removeItem(KEY_NAME);
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// The API's error body as one readable line: {"detail": "..."} or pydantic's list of
// {"loc": [...], "msg": "..."}.
function describe(status, body) {
  const detail = body && body.detail;
  if (typeof detail === "string") return `${status}: ${detail}`;
  if (Array.isArray(detail)) {
    const parts = detail.map((d) => {
      const loc = Array.isArray(d.loc) ? d.loc.filter((p) => p !== "body").join(".") : "";
      return loc ? `${loc}: ${d.msg}` : String(d.msg ?? JSON.stringify(d));
    });
    return `${status}: ${parts.join("; ")}`;
  }
  return `${status}: ${body ? JSON.stringify(body) : "the service gave no reason"}`;
}

export function url(path, query) {
  const u = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") u.searchParams.set(k, v);
  }
  return u.pathname + u.search;
}

// method, path, {query, json, body, contentType, as: "json" | "text" | "blob"}
export async function api(method, path, options = {}) {
  const headers = { Authorization: `Bearer ${options.key ?? getKey() ?? ""}` };
  let body;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.body !== undefined) {
    headers["Content-Type"] = options.contentType || "application/octet-stream";
    body = options.body;
  }
  if (options.accept) headers.Accept = options.accept;
  const response = await fetch(url(path, options.query), {
    method,
    headers,
    body,
    credentials: "omit",
    cache: "no-store",
    referrerPolicy: "no-referrer",
  });
  if (!response.ok) {
    let payload = null;
    try {
      payload = await response.json();
    } catch {
      payload = null;
    }
    throw new ApiError(response.status, describe(response.status, payload));
  }
  const as = options.as || "json";
  if (as === "blob") return response.blob();
  if (as === "text") return response.text();
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

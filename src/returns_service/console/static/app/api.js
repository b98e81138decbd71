// The public API, called with the pasted token. Errors keep the API's own problem text.
const TOKEN_KEY = "returns.console.token";
const SHOP_KEY = "returns.console.shop";

let unauthenticated = () => {};
export const onUnauthenticated = (handler) => { unauthenticated = handler; };

export const storedToken = () => sessionStorage.getItem(TOKEN_KEY);
export const storeToken = (token) => sessionStorage.setItem(TOKEN_KEY, token);
export const storedShop = () => sessionStorage.getItem(SHOP_KEY) || "";
export const storeShop = (shop) => sessionStorage.setItem(SHOP_KEY, shop);
export function forget() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(SHOP_KEY);
}

// The token's claims, read (not verified: the server verifies every call) to know the role
// and shop. null when it is not a JWT.
export function claimsOf(token) {
  const parts = token.trim().split(".");
  if (parts.length !== 3) return null;
  try {
    const base64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === "object" ? claims : null;
  } catch {
    return null;
  }
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

// One call. Answers { ok, status, data, problem, blob }; never throws for an HTTP status.
// A network failure is answered as status 0 with a problem saying so.
export async function api(path, { method = "GET", body, ifMatch, accept = "application/json", token } = {}) {
  const headers = { Accept: accept, Authorization: `Bearer ${token || storedToken() || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (ifMatch !== undefined) headers["If-Match"] = `"${ifMatch}"`;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (error) {
    return { ok: false, status: 0, problem: { title: "Network error", detail: String(error) } };
  }
  const type = response.headers.get("content-type") || "";
  const answer = { ok: response.ok, status: response.status, etag: response.headers.get("etag") };
  if (response.ok && !type.includes("json")) {
    answer.blob = await response.blob();
  } else if (type.includes("json")) {
    const data = await response.json();
    if (response.ok) answer.data = data;
    else answer.problem = data;
  } else {
    answer.problem = { title: response.statusText || `HTTP ${response.status}`, detail: await response.text() };
  }
  if (response.status === 401 && !token) unauthenticated(answer.problem);
  return answer;
}

// The API's own words for a refusal: title, detail, and each violated rule's message.
export function problemText(problem) {
  if (!problem) return "";
  const head = [problem.title, problem.detail].filter(Boolean).join(": ");
  const rules = (problem.violations || []).map((v) => `${v.rule}: ${v.message}`);
  return [head, ...rules].join("\n");
}

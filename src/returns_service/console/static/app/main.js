// The console's shell: sign-in, the header (shop, language, sign-out) and the routes.
import { html, render, useState, useEffect } from "./lib.js";
import { t, preferredLanguage, setLanguage, language } from "./i18n.js";
import {
  api, claimsOf, forget, onUnauthenticated, problemText, query, storedShop, storedToken,
  storeShop, storeToken,
} from "./api.js";
import { Queue } from "./queue.js";
import { ReturnPage } from "./return_page.js";
import { Dashboard } from "./dashboard.js";

const CONSOLE_ROLES = ["merchant", "platform"];
setLanguage(preferredLanguage());

function useRoute() {
  const read = () => (location.hash || "#/queue").slice(1);
  const [route, setRoute] = useState(read());
  useEffect(() => {
    const changed = () => setRoute(read());
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  return route;
}

function SignIn({ notice, onSignedIn }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState(notice || "");
  const [busy, setBusy] = useState(false);

  async function submit(event) {
    event.preventDefault();
    const raw = token.trim();
    const claims = claimsOf(raw);
    if (!claims) return setError(t("signin.bad_token"));
    if (!CONSOLE_ROLES.includes(claims.role)) return setError(t("signin.bad_role", { role: claims.role }));
    if (typeof claims.exp === "number" && claims.exp * 1000 < Date.now()) return setError(t("signin.expired"));
    setBusy(true);
    // The server is the judge of the token: one cheap call it must accept.
    const answer = await api(`/v1/returns${query({ limit: 1 })}`, { token: raw });
    setBusy(false);
    if (!answer.ok) return setError(problemText(answer.problem));
    storeToken(raw);
    onSignedIn(raw);
  }

  return html`<main id="main" class="signin">
    <form onSubmit=${submit} aria-labelledby="signin-title">
      <h1 id="signin-title">${t("signin.title")}</h1>
      <label for="token">${t("signin.token")}</label>
      <textarea id="token" rows="6" spellcheck="false" autocomplete="off" required
        aria-describedby="token-hint" value=${token} onInput=${(e) => setToken(e.currentTarget.value)}></textarea>
      <p id="token-hint" class="hint">${t("signin.hint")}</p>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <button type="submit" class="primary" disabled=${busy}>${t("signin.submit")}</button>
    </form>
  </main>`;
}

function ShopPicker({ shop, onPick }) {
  const [value, setValue] = useState(shop);
  const [known, setKnown] = useState([]);
  useEffect(() => {
    // The shops the platform can see on the newest returns, as suggestions.
    api(`/v1/returns${query({ limit: 200 })}`).then((answer) => {
      if (answer.ok) setKnown([...new Set(answer.data.items.map((r) => r.shop_id))].sort());
    });
  }, []);
  return html`<form class="shop-picker" onSubmit=${(e) => { e.preventDefault(); onPick(value.trim()); }}>
    <label for="shop">${t("shop.label")}</label>
    <input id="shop" list="known-shops" value=${value} placeholder=${t("shop.all")}
      onInput=${(e) => setValue(e.currentTarget.value)} />
    <datalist id="known-shops">${known.map((s) => html`<option value=${s}></option>`)}</datalist>
    <button type="submit">${t("shop.apply")}</button>
  </form>`;
}

function LanguageButton({ onSwitch }) {
  return html`<button type="button" class="lang" lang=${language() === "zh" ? "en" : "zh-CN"}
    aria-label=${t("lang.switch_label")} onClick=${onSwitch}>${t("lang.switch")}</button>`;
}

function App() {
  const [lang, setLang] = useState(language());
  const [token, setToken] = useState(storedToken());
  const [notice, setNotice] = useState("");
  const [shop, setShop] = useState(storedShop());
  const [transitions, setTransitions] = useState(null);
  const route = useRoute();

  useEffect(() => {
    onUnauthenticated((problem) => {
      forget();
      setToken(null);
      setNotice(t("session.ended", { detail: problemText(problem) }));
    });
    fetch("/console/actions.json", { credentials: "omit" })
      .then((response) => response.json())
      .then(setTransitions);
  }, []);

  function switchLanguage() {
    setLanguage(language() === "zh" ? "en" : "zh", true);
    setLang(language());
  }
  function signOut() {
    forget();
    setToken(null);
    setShop("");
    setNotice("");
    location.hash = "#/queue";
  }

  const claims = token ? claimsOf(token) : null;
  if (!claims) {
    return html`<header class="topbar"><span class="brand">${t("app.title")}</span>
      <${LanguageButton} onSwitch=${switchLanguage} /></header>
      <${SignIn} notice=${notice} onSignedIn=${(raw) => { setNotice(""); setToken(raw); }} />`;
  }

  const role = claims.role;
  const shopId = role === "merchant" ? claims.shop_id : shop;
  const session = { role, sub: claims.sub, shopId, lang, transitions };
  const [page, argument] = route.split("/").filter(Boolean);
  let content;
  if (!transitions) {
    // The pages show states and actions from the server's table: wait for it.
    content = html`<main id="main" tabindex="-1"><p aria-live="polite">${t("loading")}</p></main>`;
  } else if (page === "returns" && argument) {
    content = html`<${ReturnPage} key=${argument} id=${decodeURIComponent(argument)} session=${session} />`;
  } else if (page === "dashboard") {
    content = html`<${Dashboard} key=${shopId} session=${session} />`;
  } else {
    content = html`<${Queue} key=${shopId} session=${session} />`;
  }
  const here = page === "dashboard" ? "dashboard" : "queue";

  return html`<a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>
      ${t("skip")}</a>
    <header class="topbar">
      <span class="brand">${t("app.title")}</span>
      <nav aria-label=${t("nav.main")}>
        <a href="#/queue" aria-current=${here === "queue" ? "page" : undefined}>${t("nav.queue")}</a>
        <a href="#/dashboard" aria-current=${here === "dashboard" ? "page" : undefined}>${t("nav.dashboard")}</a>
      </nav>
      ${role === "platform"
        ? html`<${ShopPicker} shop=${shop} onPick=${(s) => { storeShop(s); setShop(s); }} />`
        : html`<span class="shop">${t("shop.label")}: <strong>${shopId}</strong></span>`}
      <span class="who">${t("signed_in_as", { role: t(`role.${role}`), sub: claims.sub })}</span>
      <${LanguageButton} onSwitch=${switchLanguage} />
      <button type="button" onClick=${signOut}>${t("signout")}</button>
    </header>
    ${content}`;
}

render(html`<${App} />`, document.getElementById("app"));

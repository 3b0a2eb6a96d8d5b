// The console's shell: sign-in, sign-out and the page chosen by the URL's #fragment.
import { api, clearKey, getKey, setKey } from "./api.js";
import { clearError, field, form, h, input, notify, replace, showError } from "./ui.js";
import * as approvals from "./approvals.js";
import * as audit from "./audit.js";
import * as conversations from "./conversations.js";
import * as evals from "./evals.js";
import * as knowledge from "./knowledge.js";
import * as lifecycle from "./lifecycle.js";
import * as prompts from "./prompts.js";
import * as reports from "./reports.js";

const PAGES = { knowledge, prompts, lifecycle, approvals, conversations, reports, evals, audit };
const main = () => document.getElementById("main");

function signInPage() {
  const key = input("key", { type: "password", autocomplete: "off", required: true });
  return h(
    "section",
    { "aria-label": "Sign in", class: "signin" },
    h("h1", {}, "Sign in"),
    h(
      "p",
      {},
      "Paste an admin key of your workspace. It stays in this browser tab only and is ",
      "forgotten when the tab closes or you sign out. Eval runs also need the qa role.",
    ),
    form(
      "Sign in",
      [field("Admin key", key)],
      async (values) => {
        const given = values.key.trim();
        // Checked against an admin endpoint before it is kept: a wrong key says so here.
        await api("GET", "/v1/stages", { key: given });
        setKey(given);
        key.value = "";
        window.location.hash = window.location.hash && window.location.hash !== "#/" ? window.location.hash : "#/knowledge";
        await route();
      },
      "Sign in",
    ),
  );
}

function signOut() {
  clearKey();
  clearError();
  notify("Signed out: the key is forgotten.");
  route();
}

async function route() {
  const signedIn = Boolean(getKey());
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("sign-out").hidden = !signedIn;
  if (!signedIn) {
    replace(main(), signInPage());
    document.title = "Sign in · Agent console";
    return;
  }
  const [name, ...rest] = window.location.hash.replace(/^#\/?/, "").split("/");
  const page = PAGES[name] ? name : "knowledge";
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.getAttribute("href") === `#/${page}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const container = h("div", { class: "page" });
  replace(main(), container);
  clearError();
  try {
    await PAGES[page].render(container, rest.map(decodeURIComponent));
    document.title = `${container.querySelector("h1")?.textContent || page} · Agent console`;
  } catch (err) {
    if (err.status === 401) {
      clearKey();
      await route();
    }
    showError(err.message || String(err));
  }
}

window.addEventListener("hashchange", () => {
  document.getElementById("notice").hidden = true;
  route();
});
document.getElementById("sign-out").addEventListener("click", signOut);
route();

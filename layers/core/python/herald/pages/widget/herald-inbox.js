/* <herald-inbox>: Herald's in-app inbox as a standard web component. No build step, no
 * framework. Embed it with the API's URL and a user's inbox token (minted by your server with
 * POST /v1/users/{user_id}/inbox-token):
 *
 *   <script type="module" src="https://herald.example.com/v1/inbox/widget.js"></script>
 *   <herald-inbox api-url="https://herald.example.com" token="..."></herald-inbox>
 *
 * Theme it with CSS custom properties on the element (--herald-inbox-accent, -bg, -text,
 * -muted, -border, -unread-bg, -badge-bg, -badge-text, -radius, -font, -width, -max-height).
 * It fires `herald-inbox:unauthorized` when the token is refused (give it a new `token`). */
(() => {
  if (customElements.get("herald-inbox")) return;

  const PAGE_SIZE = 20;
  const MAX_BACKOFF_MS = 30000;
  const SAFE_LINK = /^(https?:\/\/|\/(?!\/))/i;

  const STYLE = `
:host { position: relative; display: inline-block; font: 14px/1.4 var(--herald-inbox-font, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif);
  color: var(--herald-inbox-text, #1f2933); --_accent: var(--herald-inbox-accent, #4f46e5);
  --_muted: var(--herald-inbox-muted, #6b7280); --_border: var(--herald-inbox-border, #e5e7eb);
  --_bg: var(--herald-inbox-bg, #ffffff); --_radius: var(--herald-inbox-radius, 12px); }
button { font: inherit; color: inherit; }
.bell { position: relative; display: grid; place-items: center; width: 40px; height: 40px; padding: 0;
  border: 1px solid var(--_border); border-radius: 50%; background: var(--_bg); cursor: pointer; }
.bell:hover { border-color: var(--_accent); }
.bell svg { width: 20px; height: 20px; }
.badge { position: absolute; top: -4px; right: -4px; min-width: 18px; height: 18px; padding: 0 5px;
  box-sizing: border-box; border-radius: 9px; font-size: 11px; font-weight: 700; line-height: 18px;
  text-align: center; background: var(--herald-inbox-badge-bg, #dc2626); color: var(--herald-inbox-badge-text, #fff); }
.badge[hidden] { display: none; }
.panel { position: absolute; right: 0; top: calc(100% + 8px); z-index: 1000; width: var(--herald-inbox-width, 360px);
  max-width: calc(100vw - 16px); background: var(--_bg); border: 1px solid var(--_border); border-radius: var(--_radius);
  box-shadow: 0 12px 32px rgba(15, 23, 42, .14); overflow: hidden; }
.panel[hidden] { display: none; }
header { display: flex; align-items: center; justify-content: space-between; padding: 12px 16px; border-bottom: 1px solid var(--_border); }
h2 { margin: 0; font-size: 15px; font-weight: 650; }
.link { border: 0; background: none; padding: 4px 6px; border-radius: 6px; color: var(--_accent); cursor: pointer; font-size: 13px; }
.link:disabled { color: var(--_muted); cursor: default; }
ul { list-style: none; margin: 0; padding: 0; max-height: var(--herald-inbox-max-height, 420px); overflow-y: auto; }
li { border-bottom: 1px solid var(--_border); }
li:last-child { border-bottom: 0; }
.item { display: grid; grid-template-columns: 10px 1fr; gap: 10px; width: 100%; padding: 12px 16px; border: 0;
  background: var(--_bg); text-align: left; cursor: pointer; }
.item:hover { background: color-mix(in srgb, var(--_accent) 5%, var(--_bg)); }
.unread .item { background: var(--herald-inbox-unread-bg, color-mix(in srgb, var(--_accent) 8%, var(--_bg))); }
.dot { width: 8px; height: 8px; margin-top: 6px; border-radius: 50%; }
.unread .dot { background: var(--_accent); }
.title { display: block; font-weight: 600; }
.body { display: block; margin-top: 2px; color: var(--_muted); overflow-wrap: anywhere; }
time { display: block; margin-top: 4px; font-size: 12px; color: var(--_muted); }
.actions { display: flex; flex-wrap: wrap; gap: 8px; padding: 0 16px 12px 36px; }
.unread .actions { background: var(--herald-inbox-unread-bg, color-mix(in srgb, var(--_accent) 8%, var(--_bg))); }
.actions a { padding: 4px 10px; border: 1px solid var(--_accent); border-radius: 6px; color: var(--_accent);
  text-decoration: none; font-size: 13px; }
.actions a:first-child { background: var(--_accent); color: var(--_bg); }
.empty, .status { padding: 32px 16px; text-align: center; color: var(--_muted); }
footer { padding: 8px; text-align: center; border-top: 1px solid var(--_border); }
footer[hidden] { display: none; }
:focus-visible { outline: 2px solid var(--_accent); outline-offset: 2px; }
.item:focus-visible { outline-offset: -2px; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }`;

  const BELL = '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9"/><path d="M13.73 21a2 2 0 0 1-3.46 0"/></svg>';

  const el = (tag, props = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "class") node.className = value;
      else if (key in node && !key.includes("-")) node[key] = value;
      else node.setAttribute(key, value);
    }
    node.append(...children.filter((child) => child != null));
    return node;
  };

  const relativeTime = (iso) => {
    const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
    const format = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
    const units = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];
    for (const [unit, size] of units) {
      if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
    }
    return format.format(0, "second");
  };

  class HeraldInbox extends HTMLElement {
    static observedAttributes = ["api-url", "token"];

    constructor() {
      super();
      this.items = [];
      this.counts = { unread: 0, unseen: 0, total: 0 };
      this.cursor = null;
      this.changes = 0;
      this.socket = null;
      this.backoff = 1000;
      this.generation = 0;
      const root = this.attachShadow({ mode: "open" });
      const id = `herald-inbox-${Math.random().toString(36).slice(2)}`;
      this.badge = el("span", { class: "badge", hidden: true, "aria-hidden": "true" });
      this.bell = el("button", { class: "bell", type: "button", "aria-expanded": "false", "aria-controls": id, "aria-haspopup": "true" });
      this.bell.innerHTML = BELL;
      this.bell.append(this.badge);
      this.announcer = el("span", { class: "sr", role: "status", "aria-live": "polite" });
      this.markAll = el("button", { class: "link", type: "button", textContent: "Mark all as read" });
      this.list = el("ul", { "aria-label": "Notifications" });
      this.more = el("button", { class: "link", type: "button", textContent: "Load more" });
      this.footer = el("footer", { hidden: true }, this.more);
      this.panel = el("section", { class: "panel", id, hidden: true, role: "dialog", "aria-label": "Notifications" },
        el("header", {}, el("h2", { textContent: "Notifications" }), this.markAll), this.list, this.footer);
      root.append(el("style", { textContent: STYLE }), this.bell, this.announcer, this.panel);
      this.bell.addEventListener("click", () => this.toggle());
      this.markAll.addEventListener("click", () => this.readAll());
      this.more.addEventListener("click", () => this.loadMore());
      this.panel.addEventListener("keydown", (event) => this.onKey(event));
      this.onOutside = (event) => { if (!event.composedPath().includes(this)) this.toggle(false); };
    }

    connectedCallback() { this.start(); document.addEventListener("click", this.onOutside); }

    disconnectedCallback() { this.stop(); document.removeEventListener("click", this.onOutside); }

    attributeChangedCallback(_name, before, after) { if (before !== after && this.isConnected) this.start(); }

    get apiUrl() { return (this.getAttribute("api-url") || "").replace(/\/+$/, ""); }

    get token() { return this.getAttribute("token") || ""; }

    set token(value) { this.setAttribute("token", value); }

    // -- data --------------------------------------------------------------------------

    async request(method, path, body) {
      const response = await fetch(`${this.apiUrl}/v1/me/inbox${path}`, {
        method,
        headers: { Authorization: `Bearer ${this.token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      if (response.status === 401) {
        this.dispatchEvent(new CustomEvent("herald-inbox:unauthorized", { bubbles: true, composed: true }));
      }
      if (!response.ok) throw new Error(`Herald inbox: ${method} ${path} answered ${response.status}`);
      return response.status === 204 ? null : response.json();
    }

    async start() {
      this.stop();
      if (!this.apiUrl || !this.token) return;
      const generation = ++this.generation;
      try {
        await this.refresh();
        const realtime = await this.request("GET", "/realtime");
        if (generation === this.generation && realtime.url) this.listen(realtime.url, generation);
      } catch (error) {
        if (generation === this.generation) this.renderStatus("Notifications are unavailable right now.");
        console.warn(error);
      }
    }

    stop() {
      this.generation += 1;
      clearTimeout(this.retry);
      if (this.socket) { this.socket.onclose = null; this.socket.close(); this.socket = null; }
    }

    async refresh() {
      const [page, counts] = await Promise.all([this.request("GET", `?limit=${PAGE_SIZE}`), this.request("GET", "/count")]);
      this.items = page.items;
      this.cursor = page.next_cursor;
      this.setCounts(counts);
      this.render();
    }

    async loadMore() {
      if (!this.cursor) return;
      const page = await this.request("GET", `?limit=${PAGE_SIZE}&cursor=${encodeURIComponent(this.cursor)}`);
      const known = new Set(this.items.map((item) => item.id));
      this.items.push(...page.items.filter((item) => !known.has(item.id)));
      this.cursor = page.next_cursor;
      this.render();
    }

    async read(item) {
      if (item.read_at) return;
      item.read_at = new Date().toISOString();
      this.setCounts({ ...this.counts, unread: Math.max(0, this.counts.unread - 1) });
      this.render();
      const change = ++this.changes;
      try {
        await this.request("POST", `/${encodeURIComponent(item.id)}/read`);
      } finally {
        await this.recount(change);
      }
    }

    // The server's counts after a change, unless a newer change made them stale meanwhile.
    async recount(change) {
      const counts = await this.request("GET", "/count");
      if (change === this.changes) this.setCounts(counts);
    }

    async readAll() {
      const now = new Date().toISOString();
      for (const item of this.items) item.read_at = item.read_at || now;
      const hadFocus = this.shadowRoot.activeElement === this.markAll;
      this.setCounts({ ...this.counts, unread: 0, unseen: 0 });
      this.render();
      // The button is disabled now: keep the keyboard inside the panel.
      if (hadFocus) (this.list.querySelector(".item") || this.bell).focus();
      const change = ++this.changes;
      await this.request("POST", "/read-all");
      await this.recount(change);
    }

    // -- realtime ----------------------------------------------------------------------

    listen(url, generation) {
      const socket = new WebSocket(`${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(this.token)}`);
      this.socket = socket;
      socket.onopen = () => {
        // Anything sent while disconnected is fetched again.
        if (this.backoff > 1000) this.refresh().catch(console.warn);
        this.backoff = 1000;
      };
      socket.onmessage = (event) => this.onMessage(JSON.parse(event.data));
      socket.onclose = () => {
        if (generation !== this.generation) return;
        // Reconnect with exponential backoff and jitter, so a restart is not a stampede.
        const delay = this.backoff / 2 + Math.random() * (this.backoff / 2);
        this.backoff = Math.min(MAX_BACKOFF_MS, this.backoff * 2);
        this.retry = setTimeout(() => { if (generation === this.generation) this.listen(url, generation); }, delay);
      };
    }

    onMessage(message) {
      if (message.type === "inbox.item_created" && !this.items.some((item) => item.id === message.item.id)) {
        this.items.unshift(message.item);
        this.render();
      } else if (message.type === "inbox.counts") {
        this.setCounts(message);
      }
    }

    // -- view --------------------------------------------------------------------------

    setCounts({ unread, unseen, total }) {
      const changed = unread !== this.counts.unread;
      this.counts = { unread, unseen, total };
      this.badge.textContent = unread > 99 ? "99+" : String(unread);
      this.badge.hidden = unread === 0;
      const label = unread === 0 ? "Notifications, none unread" : `Notifications, ${unread} unread`;
      this.bell.setAttribute("aria-label", label);
      this.markAll.disabled = unread === 0;
      if (changed) this.announcer.textContent = `${unread} unread notification${unread === 1 ? "" : "s"}`;
    }

    toggle(open = this.panel.hidden) {
      if (open === !this.panel.hidden) return;
      this.panel.hidden = !open;
      this.bell.setAttribute("aria-expanded", String(open));
      if (open) {
        (this.list.querySelector(".item") || this.markAll).focus();
        if (this.counts.unseen > 0) this.request("POST", "/seen-all").catch(console.warn);
      }
    }

    onKey(event) {
      if (event.key === "Escape") {
        this.toggle(false);
        this.bell.focus();
        return;
      }
      if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
      const buttons = [...this.list.querySelectorAll(".item")];
      const index = buttons.indexOf(this.shadowRoot.activeElement);
      if (index < 0) return;
      event.preventDefault();
      const next = buttons[index + (event.key === "ArrowDown" ? 1 : -1)];
      if (next) next.focus();
    }

    renderStatus(text) {
      this.list.replaceChildren(el("li", { class: "status", textContent: text }));
      this.footer.hidden = true;
    }

    render() {
      const focused = this.shadowRoot.activeElement?.dataset?.id;
      if (this.items.length === 0) {
        this.list.replaceChildren(el("li", { class: "empty", textContent: "You're all caught up." }));
      } else {
        this.list.replaceChildren(...this.items.map((item) => this.renderItem(item)));
      }
      this.footer.hidden = !this.cursor;
      if (focused) this.list.querySelector(`[data-id="${CSS.escape(focused)}"]`)?.focus();
    }

    renderItem(item) {
      const unread = !item.read_at;
      const when = el("time", { dateTime: item.created_at, textContent: relativeTime(item.created_at), title: new Date(item.created_at).toLocaleString() });
      const button = el("button", { class: "item", type: "button", "data-id": item.id },
        el("span", { class: "dot", "aria-hidden": "true" }),
        el("span", {}, el("span", { class: "title", textContent: item.title }), el("span", { class: "body", textContent: item.body }), when,
          unread ? el("span", { class: "sr", textContent: "Unread." }) : null));
      button.addEventListener("click", async () => {
        await this.read(item);
        if (item.action_url && SAFE_LINK.test(item.action_url)) window.location.assign(item.action_url);
      });
      const links = (item.actions || []).filter((action) => SAFE_LINK.test(action.url)).map((action) => {
        const link = el("a", { href: action.url, textContent: action.label, rel: "noopener" });
        link.addEventListener("click", () => { this.read(item); });
        return link;
      });
      return el("li", { class: unread ? "unread" : "" }, button, links.length ? el("div", { class: "actions" }, ...links) : null);
    }
  }

  customElements.define("herald-inbox", HeraldInbox);
})();

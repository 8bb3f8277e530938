// The CTI panel: one card per call of the DN, merging the bridge's unified call with the local
// SIP.js session that carries its audio (linked by call_uuid = X-Genesys-CallUUID). Cards are
// updated in place so a half-typed transfer destination or the focused button survive a delta.

import { formatElapsed, h } from "./dom.js";

export const ACTION_LABELS = Object.freeze({
  answer: "Answer",
  hangup: "Hang up",
  hold: "Hold",
  retrieve: "Retrieve",
  blind_transfer: "Transfer",
  consult_transfer: "Consult",
  complete_transfer: "Complete",
  cancel_transfer: "Cancel transfer",
  dtmf: "Keypad",
});

const STATE_LABELS = Object.freeze({
  ringing: "Ringing",
  dialing: "Dialing",
  established: "Established",
  held: "On hold",
  transferring: "Transferring",
  released: "Released",
  ended: "Ended",
});

const NEEDS_DESTINATION = new Set(["blind_transfer", "consult_transfer"]);
const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];

/** Attached data to show: the configured keys in their order, or everything when none are set. */
export function shownData(userData, keys) {
  const data = userData ?? {};
  const names = keys.length ? keys.filter((k) => k in data) : Object.keys(data);
  return names.map((k) => [k, typeof data[k] === "object" ? JSON.stringify(data[k]) : String(data[k])]);
}

function kib(bytes) {
  return `${(bytes / 1024).toFixed(1)} kB`;
}

export class Panel {
  /**
   * @param list       element holding the cards
   * @param announcer  aria-live region for state changes
   * @param options    {dataKeys, act(call, action, params) -> Promise<action_result>, phone}
   */
  constructor(list, announcer, { dataKeys, act, phone }) {
    this.list = list;
    this.announcer = announcer;
    this.dataKeys = dataKeys;
    this.act = act;
    this.phone = phone;
    this.cards = new Map(); // card key -> {el, parts, lastState, actionsKey}
    setInterval(() => this.tick(), 1000);
  }

  /** Draw every bridge call, and the phone sessions no bridge call claims. */
  render(bridgeCalls, phoneSessions) {
    const seen = new Set();
    const claimed = new Set();
    for (const call of bridgeCalls.values()) {
      const session = this.phone.findByCallUuid(call.call_uuid);
      if (session) claimed.add(session.key);
      seen.add(call.id);
      this.#fillBridgeCard(this.#card(call.id), call, session);
    }
    for (const session of phoneSessions.values()) {
      if (claimed.has(session.key)) continue;
      const key = `phone:${session.key}`;
      seen.add(key);
      this.#fillPhoneCard(this.#card(key), session);
    }
    for (const [key, card] of this.cards) {
      if (!seen.has(key)) {
        card.el.remove();
        this.cards.delete(key);
      }
    }
    this.list.toggleAttribute("data-empty", this.cards.size === 0);
  }

  tick() {
    for (const el of this.list.querySelectorAll(".timer[data-since]")) {
      el.textContent = formatElapsed(Number(el.dataset.since));
    }
  }

  #card(key) {
    let card = this.cards.get(key);
    if (card) return card;
    const parts = {
      title: h("h2", { class: "who" }),
      state: h("p", { class: "state" }),
      facts: h("dl", { class: "facts" }),
      sync: h("div", { class: "sync" }),
      media: h("p", { class: "media" }),
      buttons: h("div", { class: "buttons" }),
      destination: h("input", { type: "tel", class: "destination", placeholder: "Destination",
        "aria-label": "Transfer destination", autocomplete: "off", hidden: true }),
      keypad: h("div", { class: "keypad", role: "group", "aria-label": "DTMF keypad", hidden: true }),
      result: h("p", { class: "result", role: "status" }),
    };
    const el = h("article", { class: "call", "data-key": key }, Object.values(parts));
    card = { el, parts, lastState: null, actionsKey: null, keypadSend: null };
    parts.keypad.append(...KEYS.map((k) => h("button", { type: "button", "data-digit": k,
      "aria-label": `DTMF ${k}`, onclick: () => card.keypadSend?.(k) }, k)));
    this.cards.set(key, card);
    this.list.append(el);
    return card;
  }

  #fillBridgeCard(card, call, session) {
    const { parts } = card;
    card.el.dataset.callId = call.id;
    card.el.dataset.callUuid = call.call_uuid ?? "";
    card.el.dataset.sync = call.sync?.status ?? "ok";
    const who = call.remote?.name || call.remote?.number || call.ani || "Unknown caller";
    parts.title.replaceChildren(who, call.remote?.name && call.remote?.number
      ? h("span", { class: "number" }, ` ${call.remote.number}`) : "");
    this.#fillState(card, call.state, call.state_since, `${who}: `);
    parts.facts.replaceChildren(
      ...[["ANI", call.ani], ["DNIS", call.dnis], ...shownData(call.user_data, this.dataKeys)]
        .filter(([, v]) => v)
        .flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
    );
    this.#fillSync(parts.sync, call);
    this.#fillMedia(card, session);
    this.#fillActions(card, call.actions ?? [], (action, params) => this.#run(card, action, params,
      () => this.act(call, action, params)));
  }

  #fillPhoneCard(card, session) {
    const { parts } = card;
    card.el.dataset.phoneKey = session.key;
    const { name, number } = session.remote;
    parts.title.replaceChildren(name || number || "Phone call",
      name && number ? h("span", { class: "number" }, ` ${number}`) : "");
    this.#fillState(card, session.state, null, "Phone: ");
    parts.facts.replaceChildren();
    parts.sync.replaceChildren();
    this.#fillMedia(card, session);
    const actions = session.state === "ringing" ? ["answer", "hangup"]
      : session.state === "established" ? ["hangup", "dtmf"] : ["hangup"];
    this.#fillActions(card, actions, (action, params) => {
      if (action === "answer") this.phone.answer(session.key);
      else if (action === "hangup") this.phone.hangup(session.key);
      else if (action === "dtmf") this.phone.sendDtmf(session.key, params.digits);
    });
  }

  #fillState(card, state, since, announcePrefix) {
    const { parts } = card;
    card.el.dataset.state = state;
    const timer = since ? h("span", { class: "timer", "data-since": since }, formatElapsed(since)) : "";
    parts.state.replaceChildren(h("span", { class: `badge state-${state}` }, STATE_LABELS[state] ?? state),
      " ", timer);
    if (card.lastState !== state) {
      card.lastState = state;
      this.announcer.textContent = `${announcePrefix}${STATE_LABELS[state] ?? state}`;
    }
  }

  #fillSync(el, call) {
    const sync = call.sync ?? { status: "ok" };
    if (sync.status === "ok") {
      const sides = [call.genesys && `Genesys ${call.genesys.state}`, call.asterisk && `Asterisk ${call.asterisk.state}`];
      el.replaceChildren(h("span", { class: "badge sync-ok" }, "Sync ok"), " ",
        h("span", { class: "sides-ok" }, sides.filter(Boolean).join(" · ")));
      return;
    }
    const row = (label, genesys, asterisk) => h("tr", {}, h("th", { scope: "row" }, label),
      h("td", {}, genesys ?? "-"), h("td", {}, asterisk ?? "-"));
    el.replaceChildren(
      h("span", { class: `badge sync-${sync.status}` }, `Sync ${sync.status}`),
      sync.rule ? h("span", { class: "rule" }, ` ${sync.rule}`) : "",
      h("table", { class: "sides" },
        h("thead", {}, h("tr", {}, h("td", {}), h("th", { scope: "col" }, "Genesys"),
          h("th", { scope: "col" }, "Asterisk"))),
        h("tbody", {},
          row("State", call.genesys?.state, call.asterisk?.state),
          row("Held", call.genesys ? String(call.genesys.state === "Held") : null,
            call.asterisk ? String(call.asterisk.held) : null))),
      sync.detail ? h("p", { class: "detail" }, sync.detail) : "",
    );
  }

  #fillMedia(card, session) {
    const el = card.parts.media;
    if (!session || session.state !== "established") {
      el.replaceChildren();
      delete el.dataset.ice;
      return;
    }
    const m = session.media;
    Object.assign(el.dataset, m ? { ice: m.ice, dtls: m.dtls, inBytes: m.inBytes, outBytes: m.outBytes } : {});
    el.replaceChildren(
      m ? `Audio ${m.codec.replace("audio/", "")} · ICE ${m.ice} · DTLS ${m.dtls} · ${kib(m.inBytes)} in`
        : "Audio starting…",
      " ",
      h("button", { type: "button", class: "mute", "aria-pressed": String(session.muted),
        onclick: () => this.phone.setMuted(session.key, !session.muted) }, session.muted ? "Unmute" : "Mute"),
    );
  }

  /** (Re)build the buttons only when the list of actions changed, keeping focus on a kept button. */
  #fillActions(card, actions, send) {
    const { parts } = card;
    card.send = send;
    card.keypadSend = (digit) => card.send("dtmf", { digits: digit });
    const key = actions.join(",");
    if (card.actionsKey === key) return;
    card.actionsKey = key;
    const focused = parts.buttons.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    parts.buttons.replaceChildren(...actions.map((action) => h("button", {
      type: "button", "data-action": action, class: `action action-${action}`,
      ...(action === "dtmf" ? { "aria-expanded": String(!parts.keypad.hidden) } : {}),
      onclick: (event) => this.#onButton(card, action, event.currentTarget),
    }, ACTION_LABELS[action] ?? action)));
    parts.destination.hidden = !actions.some((a) => NEEDS_DESTINATION.has(a));
    if (!actions.includes("dtmf")) parts.keypad.hidden = true;
    if (focused) parts.buttons.querySelector(`[data-action="${focused}"]`)?.focus();
  }

  #onButton(card, action, button) {
    const { parts } = card;
    if (action === "dtmf") {
      parts.keypad.hidden = !parts.keypad.hidden;
      button.setAttribute("aria-expanded", String(!parts.keypad.hidden));
      return;
    }
    const params = {};
    if (NEEDS_DESTINATION.has(action)) {
      params.destination = parts.destination.value.trim();
      if (!params.destination) {
        parts.result.textContent = "Enter a destination first";
        parts.destination.focus();
        return;
      }
    }
    card.send(action, params);
  }

  async #run(card, action, params, perform) {
    const { result } = card.parts;
    const label = action === "dtmf" ? `DTMF ${params.digits}` : ACTION_LABELS[action] ?? action;
    result.dataset.outcome = "pending";
    result.textContent = `${label}…`;
    const reply = await perform();
    result.dataset.outcome = reply.outcome;
    result.dataset.action = action;
    const latency = reply.latency_ms ? ` · ${Math.round(reply.latency_ms)} ms` : "";
    result.textContent = `${label}: ${reply.outcome}${latency}${reply.detail ? ` — ${reply.detail}` : ""}`;
  }
}

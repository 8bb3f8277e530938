// ctibridge widget as a WWE extension (seed "Option B"): registers the widget iframe and listens
// for its screen pops. Load it as a WWE extension script; fill CTIBRIDGE for the site, and give
// `agent` the signed-in agent's DN, bridge token and SIP password (from the server that renders
// WWE's customization, never hard-coded in a shared file).

(function registerCtibridgeWidget() {
  const CTIBRIDGE = {
    widgetUrl: "https://cti.example.com/widget/",
    bridgeUrl: "wss://cti.example.com/ws",
    asteriskUrl: "wss://cti.example.com/asterisk-ws",
    dataKeys: ["Segment", "AccountId"],
  };
  const agent = window.ctibridgeAgent || { dn: "", token: "", sipPassword: "" };

  const src = new URL(CTIBRIDGE.widgetUrl);
  const params = {
    dn: agent.dn, token: agent.token, sipPassword: agent.sipPassword,
    bridgeUrl: CTIBRIDGE.bridgeUrl, asteriskUrl: CTIBRIDGE.asteriskUrl,
    dataKeys: CTIBRIDGE.dataKeys.join(","),
    parentOrigins: window.location.origin, // the widget answers this page only
  };
  for (const [key, value] of Object.entries(params)) src.searchParams.set(key, value);

  window.genesys.wwe.service.registerWidget({
    id: "ctibridge-phone",
    title: "Phone",
    url: src.href,
    width: 300,
    height: 500,
    position: "right",
  });

  // Screen pop: only from the widget's origin. Replace the body with the site's own pop.
  const widgetOrigin = src.origin;
  window.addEventListener("message", (event) => {
    if (event.origin !== widgetOrigin || event.data?.type !== "ctibridge.screenpop") return;
    const call = event.data.call;
    console.info("ctibridge screen pop", call.id, call.ani, call.user_data);
  });
})();

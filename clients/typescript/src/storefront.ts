/**
 * A storefront backend on Node, as its team would write it: types generated from
 * openapi/openapi.json by openapi-typescript with default options, calls made by openapi-fetch.
 *
 * It registers an order, sets the shop's policy, applies for a return, approves it with
 * If-Match, lists the shop's returns and reads the code of a problem. Every request leaves
 * out what the server defaults (which compiles only if the generated types say so), and every
 * answer is checked at run time against the members its generated type declares.
 *
 *     npm run generate && npm run build && node dist/src/storefront.js '<setup as JSON>'
 *
 * tests/api/test_typescript_client.py runs it against a live server; it prints one line per
 * call and exits non-zero on the first answer that is not as typed.
 */
import createClient from "openapi-fetch";

import type { components, paths } from "../generated/returns-service.js";

type Schemas = components["schemas"];

// All this program needs of Node's `process`; @types/node would be a dependency for two members.
declare const process: { argv: string[]; exitCode?: number };

interface Setup {
  baseUrl: string;
  shopId: string;
  orderId: string;
  buyerId: string;
  tokens: { storefront: string; buyer: string; merchant: string };
}

/** Each member T names (not its index signature), as declared: always present, or maybe. */
type Members<T> = {
  [K in keyof T as string extends K ? never : K]-?: {} extends Pick<T, K> ? "maybe" : "always";
};

class NotAsTyped extends Error {}

function expect(condition: boolean, said: string): asserts condition {
  if (!condition) {
    throw new NotAsTyped(said);
  }
}

/**
 * The value, once every member its type says is always present was sent and nothing else
 * was (tsc checks that `members` lists exactly the type's members, each rightly marked).
 */
function answersAs<T>(what: string, value: unknown, members: Members<T>, open = false): T {
  expect(typeof value === "object" && value !== null, `${what}: not an object`);
  const sent = new Set(Object.keys(value));
  for (const [name, presence] of Object.entries(members)) {
    expect(presence === "maybe" || sent.has(name), `${what}: typed as always sent, missing: ${name}`);
    sent.delete(name);
  }
  expect(open || sent.size === 0, `${what}: sent members its type lacks: ${[...sent].join(", ")}`);
  return value as T;
}

const orderMembers: Members<Schemas["OrderOut"]> = {
  order_id: "always",
  shop_id: "always",
  buyer_id: "always",
  currency: "always",
  paid_at: "always",
  shipped_at: "always",
  delivered_at: "always",
  shipping_fee: "always",
  shipping_insurance: "always",
  buyer_region: "always",
  carrier: "always",
  tracking_number: "always",
  lines: "always",
  created_at: "always",
  updated_at: "always",
};

const policyMembers: Members<Schemas["ReturnPolicyOut"]> = {
  shop_id: "always",
  window_days: "always",
  defect_window_days: "always",
  extra_excluded_categories: "always",
  legal_excluded_categories: "always",
  restocking_fee_percent: "always",
  review_timeout: "always",
  ship_timeout: "always",
  receive_timeout: "always",
  escalation_timeout: "always",
  offer_timeout: "always",
  auto_refund_unshipped: "always",
  fast_refund: "always",
  abuse_threshold: "always",
  return_address: "always",
  version: "always",
  updated_at: "always",
};

const thresholdMembers: Members<Schemas["AbuseThresholdOut"]> = {
  returns: "always",
  days: "always",
};

const addressMembers: Members<Schemas["ReturnAddressOut"]> = {
  kind: "always",
  name: "always",
  phone: "always",
  address: "always",
  postal_code: "always",
};

const returnMembers: Members<Schemas["ReturnOut"]> = {
  id: "always",
  order_id: "always",
  shop_id: "always",
  buyer_id: "always",
  type: "always",
  reason: "always",
  fault: "always",
  status: "always",
  version: "always",
  items: "always",
  refund_amount: "always",
  currency: "always",
  deductions: "always",
  return_shipping_paid_by: "always",
  buyer_flagged: "always",
  description: "always",
  evidence: "always",
  return_address: "always",
  instructions: "always",
  inspection: "always",
  rejection: "always",
  shipment: "always",
  replacement_shipment: "always",
  refund: "always",
  deadline: "always",
  receive_extended: "always",
  dispositions: "always",
  keep_goods: "always",
  offer: "always",
  offers_made: "always",
  created_at: "always",
  updated_at: "always",
};

const pageMembers: Members<Schemas["ReturnPage"]> = { items: "always", next_cursor: "always" };

// A problem carries the members its error uses, and may carry more (RFC 9457 extensions).
const problemMembers: Members<Schemas["Problem"]> = {
  type: "always",
  title: "always",
  status: "always",
  detail: "always",
  code: "always",
  violations: "maybe",
  errors: "maybe",
  state: "maybe",
  allowed_actions: "maybe",
  request_id: "maybe",
};

function returnOf(what: string, value: unknown): Schemas["ReturnOut"] {
  const answer = answersAs(what, value, returnMembers);
  if (answer.return_address !== null) {
    answersAs(`${what}.return_address`, answer.return_address, addressMembers);
  }
  return answer;
}

function said(call: string, status: number, detail: string): void {
  console.log(`${call}: ${status} ${detail}`);
}

async function main(setup: Setup): Promise<void> {
  const as = (token: string) =>
    createClient<paths>({ baseUrl: setup.baseUrl, headers: { Authorization: `Bearer ${token}` } });
  const storefront = as(setup.tokens.storefront);
  const buyer = as(setup.tokens.buyer);
  const merchant = as(setup.tokens.merchant);
  const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();

  // shipping_fee and shipping_insurance are left out: the server defaults them.
  const order = await storefront.PUT("/v1/orders/{order_id}", {
    params: { path: { order_id: setup.orderId } },
    body: {
      shop_id: setup.shopId,
      buyer_id: setup.buyerId,
      currency: "CNY",
      paid_at: daysAgo(5),
      delivered_at: daysAgo(2),
      lines: [
        {
          line_id: "l1",
          sku: "TSHIRT-W-M",
          title: "T-shirt",
          category: "apparel",
          unit_price: 9900,
          quantity: 2,
        },
      ],
    },
  });
  expect(order.response.status === 201, `putOrder: ${order.response.status}`);
  const registered = answersAs("putOrder", order.data, orderMembers);
  expect(registered.shipping_fee === 0, "putOrder: shipping_fee left out is 0");
  said("putOrder", order.response.status, `order ${registered.order_id}`);

  // Only the window is named; every other member of the policy takes its default.
  const policy = await merchant.PUT("/v1/shops/{shop_id}/return-policy", {
    params: { path: { shop_id: setup.shopId } },
    body: { window_days: 10 },
  });
  expect(policy.response.status === 200, `putReturnPolicy: ${policy.response.status}`);
  const rules = answersAs("putReturnPolicy", policy.data, policyMembers);
  const threshold = answersAs("abuse_threshold", rules.abuse_threshold, thresholdMembers);
  const version: number = rules.version;
  const legal: string[] = rules.legal_excluded_categories;
  expect(rules.window_days === 10 && threshold.returns === 5, "putReturnPolicy: as asked");
  expect(version === 1 && legal.length > 0, "putReturnPolicy: version and legal floor");
  said("putReturnPolicy", policy.response.status, `version ${version}`);

  // description and evidence are left out.
  const application = await buyer.POST("/v1/returns", {
    body: {
      order_id: setup.orderId,
      type: "return_refund",
      reason: "no_reason",
      items: [{ line_id: "l1", quantity: 1, condition: "unopened" }],
    },
  });
  expect(application.response.status === 201, `applyForReturn: ${application.response.status}`);
  const applied = returnOf("applyForReturn", application.data);
  const etag = application.response.headers.get("ETag");
  expect(applied.status === "requested" && etag === `"${applied.version}"`, "applyForReturn");
  said("applyForReturn", application.response.status, `return ${applied.id}, ETag ${etag}`);

  // The address leaves out its kind: the server takes it as the shop's own.
  const approval = await merchant.POST("/v1/returns/{return_id}/approve", {
    params: { path: { return_id: applied.id }, header: { "If-Match": etag } },
    body: { return_address: { name: "Returns desk", phone: "13800000000", address: "1 Dock Rd" } },
  });
  expect(approval.response.status === 200, `approveReturn: ${approval.response.status}`);
  const approved = returnOf("approveReturn", approval.data);
  expect(approved.return_address !== null, "approveReturn: the address");
  const kind: "shop" | "warehouse" | "supplier" = approved.return_address.kind;
  expect(approved.status === "approved" && kind === "shop", "approveReturn: approved, kind shop");
  expect(approved.version === applied.version + 1, "approveReturn: the next version");
  said("approveReturn", approval.response.status, `${approved.status}, address kind ${kind}`);

  const listing = await merchant.GET("/v1/returns", {
    params: { query: { status: "approved", limit: 10 } },
  });
  expect(listing.response.status === 200, `listReturns: ${listing.response.status}`);
  const page = answersAs("listReturns", listing.data, pageMembers);
  const listed = page.items.map((item, n) => returnOf(`listReturns.items[${n}]`, item));
  expect(
    listed.some((item) => item.id === approved.id && item.version === approved.version),
    "listReturns: the approved return, at its version",
  );
  said("listReturns", listing.response.status, `${listed.length} return(s)`);

  // The same approval again, with the version it has left behind.
  const stale = await merchant.POST("/v1/returns/{return_id}/approve", {
    params: { path: { return_id: applied.id }, header: { "If-Match": etag } },
    body: {},
  });
  expect(stale.data === undefined && stale.error !== undefined, "stale approveReturn: a problem");
  const problem = answersAs("stale approveReturn", stale.error, problemMembers, true);
  const code: string = problem.code;
  expect(stale.response.status === 412 && code === "version_mismatch", `stale: ${code}`);
  expect(
    stale.response.headers.get("Content-Type") === "application/problem+json",
    "stale approveReturn: problem+json",
  );
  // A problem answering a request names it, as X-Request-Id does.
  const requestId = stale.response.headers.get("X-Request-Id");
  expect(problem.request_id === requestId && requestId !== null, "stale: the request id");
  said("approveReturn (stale If-Match)", stale.response.status, `code ${code}`);
}

main(JSON.parse(process.argv[2] ?? "{}") as Setup).catch((error: unknown) => {
  console.error(error instanceof NotAsTyped ? `not as typed: ${error.message}` : error);
  process.exitCode = 1;
});

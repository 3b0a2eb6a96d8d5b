// Approvals: AI moves into a stage that needs a human's yes, with the evidence.
import { api } from "./api.js";
import { button, field, form, h, notify, replace, select, table, when } from "./ui.js";

export async function render(root) {
  const list = h("div");
  let status = "pending";
  async function load() {
    const items = await api("GET", "/v1/approvals", { query: { status } });
    replace(
      list,
      table(
        status === "pending" ? "Waiting for a decision" : `Approvals: ${status}`,
        [
          { title: "Contact", cell: (a) => h("a", { href: `#/conversations/${encodeURIComponent(a.contact_id)}` }, a.contact_id) },
          { title: "Move", cell: (a) => `${a.from_stage ?? "—"} → ${a.to_stage}` },
          { title: "Reason", cell: (a) => a.reason },
          { title: "Evidence", cell: (a) => a.evidence },
          { title: "Confidence", cell: (a) => (a.confidence == null ? "—" : a.confidence) },
          { title: "Asked", cell: (a) => when(a.created_at) },
          { title: "Status", cell: (a) => a.status },
          {
            title: "Decision",
            cell: (a) =>
              a.status !== "pending"
                ? `${a.decided_by ?? ""} ${when(a.decided_at)}`
                : [
                  button("Approve", async () => {
                    await api("POST", `/v1/approvals/${encodeURIComponent(a.id)}/approve`);
                    notify(`Approved: ${a.contact_id} moves to ${a.to_stage}.`);
                    await load();
                  }, { "aria-label": `Approve ${a.contact_id} to ${a.to_stage}` }),
                  button("Reject", async () => {
                    await api("POST", `/v1/approvals/${encodeURIComponent(a.id)}/reject`);
                    notify(`Rejected the move of ${a.contact_id}.`);
                    await load();
                  }, { "aria-label": `Reject ${a.contact_id} to ${a.to_stage}` }),
                ],
          },
        ],
        items,
      ),
    );
  }
  replace(
    root,
    h("h1", {}, "Approvals"),
    form("Approval status", [field("Status", select("status", ["pending", "approved", "rejected"], status))], async (v) => {
      status = v.status;
      await load();
    }, "Show"),
    list,
  );
  await load();
}

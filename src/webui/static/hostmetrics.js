// A host's resource use as the agent last reported it: CPU, memory, load and root disk.

function bytes(n) {
  const value = Number(n) || 0;
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = value;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

function percent(used, total) {
  const t = Number(total) || 0;
  return t > 0 ? Math.round((100 * (Number(used) || 0)) / t) : null;
}

// Whether the agent reported any metrics (an agent before its first heartbeat reports none).
export function hasMetrics(m) {
  return Boolean(m && Number(m.memory_total_bytes) > 0);
}

// [label, value] rows for the Agent popup.
export function metricsRows(m) {
  if (!hasMetrics(m)) return [["Resources", "not reported yet"]];
  const rows = [
    ["CPU", `${Math.round(Number(m.cpu_percent) || 0)}%`],
    ["Memory", `${bytes(m.memory_used_bytes)} of ${bytes(m.memory_total_bytes)} (${percent(m.memory_used_bytes, m.memory_total_bytes)}%)`],
    ["Load", [m.load1, m.load5, m.load15].map((x) => (Number(x) || 0).toFixed(2)).join(" · ")],
  ];
  if (Number(m.disk_total_bytes) > 0) rows.push(["Disk (/)", `${bytes(m.disk_used_bytes)} of ${bytes(m.disk_total_bytes)} (${percent(m.disk_used_bytes, m.disk_total_bytes)}%)`]);
  if (Number(m.swap_total_bytes) > 0) rows.push(["Swap", `${bytes(m.swap_used_bytes)} of ${bytes(m.swap_total_bytes)}`]);
  return rows;
}

// The compact hint under a host's name: "cpu 12% · mem 41% · load 0.52 · disk 63%".
export function metricsHint(m) {
  if (!hasMetrics(m)) return "";
  const parts = [`cpu ${Math.round(Number(m.cpu_percent) || 0)}%`, `mem ${percent(m.memory_used_bytes, m.memory_total_bytes)}%`, `load ${(Number(m.load1) || 0).toFixed(2)}`];
  const disk = percent(m.disk_used_bytes, m.disk_total_bytes);
  if (disk !== null) parts.push(`disk ${disk}%`);
  return parts.join(" · ");
}

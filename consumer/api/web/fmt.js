// Time and number formatting. Times come from the API as RFC 3339 UTC; they are shown in the
// configured fixed zone, else the viewer's own zone, always with the zone named.
import {h} from './dom.js';

let zone;          // IANA name, or undefined = the browser's zone
let dateFmt, timeFmt;

// Sets the display zone; returns an error text when the zone is unknown to the browser.
export function setZone(tz) {
  let err = null;
  zone = undefined;
  if (tz) {
    try {
      new Intl.DateTimeFormat('en', {timeZone: tz});
      zone = tz;
    } catch (e) {
      err = `The configured time zone "${tz}" is unknown to this browser; showing your own zone.`;
    }
  }
  dateFmt = new Intl.DateTimeFormat(undefined, {
    timeZone: zone, year: 'numeric', month: 'short', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
    timeZoneName: 'short',
  });
  timeFmt = new Intl.DateTimeFormat(undefined, {
    timeZone: zone, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
    timeZoneName: 'short',
  });
  return err;
}

export function zoneName() {
  return dateFmt.resolvedOptions().timeZone;
}

export function zoneAbbrev() {
  const part = dateFmt.formatToParts(new Date()).find((p) => p.type === 'timeZoneName');
  return part ? part.value : '';
}

export function parseTime(iso) {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

// A <time> element: the zoned time as text, the UTC instant as datetime and tooltip.
export function timeEl(iso, short) {
  const d = parseTime(iso);
  if (!d) return h('span.muted', null, '—');
  const text = (short ? timeFmt : dateFmt).format(d);
  return h('time', {datetime: d.toISOString(), title: d.toISOString()}, text);
}

export function formatTime(date, short) {
  return (short ? timeFmt : dateFmt).format(date);
}

// 3725.4 -> "1 h 2 min 5 s"; 42.25 -> "42.3 s".
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  let s = Math.round(seconds);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const hh = Math.floor(s / 3600); s -= hh * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const parts = [];
  if (d) parts.push(`${d} d`);
  if (hh) parts.push(`${hh} h`);
  if (m && !d) parts.push(`${m} min`);
  if (s && !d && !hh) parts.push(`${s} s`);
  return parts.join(' ') || '0 s';
}

export function percent(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  return `${v >= 99.95 || v === 0 ? Math.round(v) : v.toFixed(1)} %`;
}

export function num(v) {
  return typeof v === 'number' ? v.toLocaleString() : (v === null || v === undefined ? '—' : String(v));
}

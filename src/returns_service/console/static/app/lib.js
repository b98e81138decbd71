// Preact with hooks, written with htm's tagged templates: no build step, no eval.
import { h, render, createContext } from "../vendor/preact.js";
import { useState, useEffect, useRef, useMemo, useCallback, useContext } from "../vendor/hooks.js";
import htm from "../vendor/htm.js";

export const html = htm.bind(h);
export { render, createContext, useState, useEffect, useRef, useMemo, useCallback, useContext };

// The current time, ticking once a second, for countdowns.
export function useNow() {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

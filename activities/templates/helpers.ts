import type Handlebars from 'handlebars';
import type { Locale } from '../../config/schema';
import { createLocalTime, intlLocale } from './local-time';
import { lookUpPhrase, type Phrases } from './phrases';

/**
 * The helpers every template may call, bound to one language, zone and phrase table:
 * `{{time iso}}`, `{{timestamp iso}}`, `{{phrase "section" value}}`, `{{count "section" n}}`, `{{percent 0.55}}`,
 * `{{list names}}` and `{{#if (eq a b)}}`.
 */
export function registerTemplateHelpers(
  handlebars: typeof Handlebars,
  locale: Locale,
  timeZone: string,
  phrases: Phrases,
): void {
  const localTime = createLocalTime(locale, timeZone);
  const tag = intlLocale(locale);
  const plural = new Intl.PluralRules(tag);
  const percent = new Intl.NumberFormat(tag, { style: 'percent', maximumFractionDigits: 0 });
  const names = new Intl.ListFormat(tag, { style: 'long', type: 'conjunction' });
  handlebars.registerHelper('time', (iso: unknown) => localTime.long(String(iso)));
  handlebars.registerHelper('timestamp', (iso: unknown) => localTime.short(String(iso)));
  handlebars.registerHelper('phrase', (section: unknown, key: unknown) =>
    lookUpPhrase(phrases, String(section), String(key)),
  );
  handlebars.registerHelper('count', (section: unknown, amount: unknown) => {
    const value = Number(amount);
    const form = value <= 0 && phrases[String(section)]?.zero ? 'zero' : plural.select(value);
    return lookUpPhrase(phrases, String(section), form).replace('{count}', String(value));
  });
  handlebars.registerHelper('percent', (fraction: unknown) => percent.format(Number(fraction)));
  handlebars.registerHelper('list', (items: unknown) => names.format(Array.isArray(items) ? items.map(String) : []));
  handlebars.registerHelper('eq', (left: unknown, right: unknown) => left === right);
}

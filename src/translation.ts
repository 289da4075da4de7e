import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import React from 'react';

/** Gettext domain of this extension's strings. */
export const TRANSLATION_DOMAIN = 'dask_cluster_launcher';

/** This extension's translation bundle (English without a translator). */
export function translationBundle(
  translator?: ITranslator | null
): TranslationBundle {
  return (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
}

/** The bundle every component translates with (set once by the sidebar). */
export const TransContext =
  React.createContext<TranslationBundle>(translationBundle());

/** The translation bundle of the surrounding sidebar. */
export function useTrans(): TranslationBundle {
  return React.useContext(TransContext);
}

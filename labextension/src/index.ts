/**
 * aurous-nb: a widget output shows its static copy when the live model is gone, and that copy
 * stays current, so a saved and reopened notebook shows what the person last saw.
 *
 * Each aurous_nb widget's display bundle (aurous_nb/widgets/_base.py) holds the widget view, a
 * static `text/html` copy, and STATIC_MIME. Stock JupyterLab prefers the widget view and, once
 * the kernel that owned the model is gone, shows "Error displaying widget: model not found"
 * rather than the copy beside it. This plugin gives every notebook a renderer for STATIC_MIME,
 * ranked before the widget view, which
 *  - shows the notebook's own widget renderer whenever that has a live view;
 *  - shows the output's `text/html` otherwise (no model, no kernel yet, kernel restarted);
 *  - while live, copies the widget's synced static HTML (the `trait` named in STATIC_MIME's
 *    data) into the output's `text/html`, which is what the notebook saves, so clicks in
 *    finished cells reach the saved file too.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { Panel, Widget } from '@lumino/widgets';

const STATIC_MIME = 'application/vnd.aurous-nb.static+json';
const WIDGET_MIME = 'application/vnd.jupyter.widget-view+json';
const HTML_MIME = 'text/html';
const DEFAULT_TRAIT = '_static_html';
/** Ahead of the widget manager's renderer (rank -10), so bundles with STATIC_MIME come here. */
const RANK = -20;

/** The two methods of a widget model (a Backbone model) this renderer uses. */
interface IWidgetModel {
  get(name: string): unknown;
  on(event: string, callback: () => void, context?: unknown): void;
  off(event: string, callback: () => void, context?: unknown): void;
}

/**
 * The widget model behind the live view the widget renderer shows, `null` when it shows none
 * (yet, or any more). ipywidgets 8's renderer is a Panel holding the view's Lumino widget, which
 * keeps its view as `_view`; if that ever changes we only lose the copying, not the view.
 */
function liveModel(renderer: Widget): IWidgetModel | null | undefined {
  if (!(renderer instanceof Panel)) {
    return undefined; // unknown renderer: treat it as live, as stock JupyterLab would
  }
  if (renderer.isDisposed || renderer.isHidden || renderer.widgets.length === 0) {
    return null;
  }
  const view = (renderer.widgets[0] as unknown as { _view?: { model?: IWidgetModel } })._view;
  return view?.model ?? undefined;
}

class StaticFallbackRenderer extends Panel implements IRenderMime.IRenderer {
  constructor(options: IRenderMime.IRendererOptions, notebook: NotebookPanel) {
    super();
    this._notebook = notebook;
    this.addClass('aurous-nb-output');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    this._mime = model;
    const spec = (model.data[STATIC_MIME] ?? {}) as { trait?: unknown };
    this._trait = typeof spec.trait === 'string' ? spec.trait : DEFAULT_TRAIT;
    const view = model.data[WIDGET_MIME] as { model_id?: string } | undefined;
    const id = view?.model_id ?? '';
    if (this._live !== null && id === this._modelId) {
      // The same widget's output again (a display update, or our own copy): keep the view.
      this._update();
      return;
    }
    const token = ++this._token;
    this._reset();
    this._modelId = id;
    const session = this._notebook.sessionContext;
    if (!session.isReady) {
      await this._showStatic(); // the kernel is still starting: the copy meanwhile
    }
    await session.ready;
    // The widget manager binds the notebook's widget renderer as `ready` resolves; let it.
    await new Promise(resolve => setTimeout(resolve, 0));
    if (token !== this._token || this.isDisposed) {
      return;
    }
    if (!id || !session.session?.kernel) {
      await this._showStatic(); // no kernel, so no widget manager: only the copy can show
      return;
    }
    const live = this._notebook.content.rendermime.createRenderer(WIDGET_MIME);
    this._live = live;
    live.node.style.display = 'none';
    this.addWidget(live);
    try {
      await live.renderModel(model);
    } catch (reason) {
      console.warn('aurous-nb: the widget view failed to render', reason);
    }
    if (token !== this._token || this.isDisposed) {
      return;
    }
    // From now on, follow the view: it may appear later (the manager restores its models) or
    // go away (the kernel restarts).
    this._observer = new MutationObserver(() => this._update());
    this._observer.observe(live.node, {
      childList: true,
      attributes: true,
      attributeFilter: ['class']
    });
    this._update();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._token++;
    this._reset();
    super.dispose();
  }

  /** Show the live view if there is one, else the static copy. */
  private _update(): void {
    const live = this._live;
    const model = live === null ? null : liveModel(live);
    if (live !== null && model !== null) {
      live.node.style.display = '';
      if (this._static !== null) {
        this._static.node.style.display = 'none';
      }
      this._watch(model ?? null);
      this._copy();
      return;
    }
    if (live !== null) {
      live.node.style.display = 'none';
    }
    this._watch(null);
    void this._showStatic();
  }

  /** Render the output's `text/html` (again, if it changed) and show it. */
  private async _showStatic(): Promise<void> {
    const mime = this._mime;
    const html = mime?.data[HTML_MIME];
    if (mime === null || typeof html !== 'string') {
      return;
    }
    if (this._static === null) {
      this._static = this._notebook.content.rendermime.createRenderer(HTML_MIME);
      this.insertWidget(0, this._static);
    }
    this._static.node.style.display = '';
    if (this._staticHtml !== html) {
      this._staticHtml = html;
      await this._static.renderModel(mime);
    }
  }

  /** Follow one widget model's static copy (or none). */
  private _watch(model: IWidgetModel | null): void {
    if (model === this._widget) {
      return;
    }
    this._widget?.off(`change:${this._trait}`, this._copy, this);
    this._widget = model;
    model?.on(`change:${this._trait}`, this._copy, this);
  }

  /** Write the widget's current static HTML into the output, where saving finds it. */
  private _copy(): void {
    const mime = this._mime;
    const html = this._widget?.get(this._trait);
    if (mime === null || typeof html !== 'string' || !html || html === mime.data[HTML_MIME]) {
      return;
    }
    mime.setData({ data: { ...mime.data, [HTML_MIME]: html } });
  }

  private _reset(): void {
    this._observer?.disconnect();
    this._observer = null;
    this._watch(null);
    this._live?.dispose();
    this._live = null;
    this._static?.dispose();
    this._static = null;
    this._staticHtml = null;
  }

  private _notebook: NotebookPanel;
  private _mime: IRenderMime.IMimeModel | null = null;
  private _modelId = '';
  private _trait = DEFAULT_TRAIT;
  private _token = 0;
  private _live: IRenderMime.IRenderer | null = null;
  private _static: IRenderMime.IRenderer | null = null;
  private _staticHtml: string | null = null;
  private _observer: MutationObserver | null = null;
  private _widget: IWidgetModel | null = null;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'aurous-nb:static-fallback',
  description: "Shows aurous_nb widgets' saved static copy when their model is gone.",
  autoStart: true,
  requires: [INotebookTracker],
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker) => {
    const install = (notebook: NotebookPanel): void => {
      notebook.content.rendermime.addFactory(
        {
          safe: false, // like the widget view: untrusted outputs get the sanitized text/html
          mimeTypes: [STATIC_MIME],
          createRenderer: options => new StaticFallbackRenderer(options, notebook)
        },
        RANK
      );
    };
    tracker.forEach(install);
    tracker.widgetAdded.connect((_sender, notebook) => install(notebook));
  }
};

export default plugin;

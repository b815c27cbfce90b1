"""Every text the Slack flows show, in English and French (R10). Messages of the core's errors
are shown as they are; only the labels around them are translated here.

`t` fills a text with values escaped for mrkdwn (commands.notifications.slack_text), so nothing
a person typed becomes a mention or a link; texts without values are labels, and each fits
Slack's limit for where it is shown in both languages (tests/bot/test_labels.py)."""

from __future__ import annotations

from commands.notifications.slack_text import Escaped, mrkdwn

LANGUAGES = ("en", "fr")

EN: dict[str, str] = {
    "help": (
        "*omi-bot* manages the versions of your OMI products.\n"
        "• `/omi publish [PRODUCT_CODE]`: open the Version form and ask for publication\n"
        "• `/omi modify VERSION_ID`: modify a published version\n"
        "• `/omi unpublish VERSION_ID`: ask to unpublish a version, on a date or at once\n"
        "• `/omi unpublish-product PRODUCT_CODE`: ask to unpublish every version of a product\n"
        "• `/omi versions PRODUCT_CODE`: the Versions table\n"
        "• `/omi version VERSION_ID`: a version and its history\n"
        "• `/omi products`: your products\n"
        "• `/omi help`: this help"
    ),
    "failed": "Something went wrong on our side; nothing was changed. Try again in a moment.",
    "database_down": "omi-bot cannot reach its database right now; nothing was done. Try again "
    "in a minute.",
    "no_products": "There is no product yet.",
    "products_title": "*Products*",
    "product_line": "*{name}* · product code `{code}` · last available version: {last} · "
    "modified {date}",
    "none": "none",
    "versions_title": "*Versions of {name}* · product code `{code}`",
    "versions_header": "ID · software version · modification date · status · OMI copy",
    "version_line": "`{id}` · {software} · {date} · {status} · {copy}",
    "versions_more": "… {n} more",
    "versions_empty": "No version yet.",
    "status_publishing": "publishing",
    "status_published": "published",
    "status_failed": "failed",
    "status_unpublished": "unpublished",
    "status_broken": "broken",
    "schedule_on": "unpublish on {date}",
    "schedule_blocked": "blocked by R7",
    "when_label": "When",
    "when_now": "Now",
    "when_date": "On a date",
    "date_label": "Unpublication date (UTC)",
    "date_hint": "Subscribers get {n} days' notice: {date} at the earliest. They are reminded "
    "{reminders} day(s) before.",
    "date_needed": "Pick a date.",
    "unpublish_what_version": "Unpublish version `{id}` ({software}) of *{name}* (product code "
    "`{code}`).",
    "unpublish_what_product": "Unpublish *every version* of *{name}* (product code `{code}`).",
    "unpublish_submit": "Ask for approval",
    "request_on": ":calendar: To be unpublished on *{date}* (UTC), if approved.",
    "confirm_schedule": "This schedules the unpublication of {what} on *{date}* (UTC). "
    "Subscribers and organization administrators are told now and reminded {reminders} day(s) "
    "before; on that date the OMI copy is deleted from the OUTSCALE Cloud, and running VMs keep "
    "running.",
    "what_version": "version `{id}`",
    "what_product": "every version of product `{code}`",
    "proceed_schedule": "Schedule",
    "told_approved_schedule": "Your request #{id} was approved by {user}: the unpublication "
    "of {what} is scheduled on {date}.",
    "cancelled_by": ":no_entry_sign: Unpublication cancelled by {user}.",
    "repair_queued": ":wrench: Repair of product {code} asked by {user}: {n} job(s) queued.",
    "repair_nothing": "Nothing new to repair on product {code}: its findings are repaired or "
    "being repaired.",
    "loading_title": "omi-bot",
    "loading": ":hourglass_flowing_sand:",
    "checking": ":hourglass_flowing_sand: Checking OMI {omi} with the OUTSCALE Cloud…",
    "saving": ":hourglass_flowing_sand: Saving version {id}…",
    "approving": ":hourglass_flowing_sand: Approving request #{id}…",
    "rejecting": ":hourglass_flowing_sand: Rejecting request #{id}…",
    "done_title": "Done",
    "form_error": ":warning: {message}",
    "approved_publish": "Request #{id} is approved: version {version} of product {code} is "
    "being published. Its progress is posted in the request's thread.",
    "approved_schedule": "Request #{id} is approved: the unpublication of {what} is scheduled "
    "on {date}.",
    "approved_unpublish": "Request #{id} is approved: product {code} is being unpublished.",
    "rejected": "Request #{id} for product {code} is rejected: {reason}",
    "form_title_publish": "Version form",
    "form_title_modify": "Modify version",
    "form_submit_publish": "Publish",
    "form_submit_modify": "Publish modifications",
    "cancel": "Cancel",
    "close": "Close",
    "form_product": "Product *{name}* · product code `{code}`",
    "form_version": "Version `{id}` · product code `{code}`",
    "field_omi": "OMI name or ID",
    "field_omi_hint": "Only available OMIs of the seller account carrying product code {code}.",
    "field_omi_readonly": "*OMI* (cannot change once published): {name} (`{id}`) · OMI copy {copy}",
    "field_software_version": "Software version",
    "field_operating_system": "Operating system",
    "field_software_base": "Software base",
    "field_software_base_hint": "One element per line.",
    "field_release_note": "Release note",
    "field_instructions": "Instructions for use",
    "pick_title": "Publish a version",
    "pick_product": "Product",
    "pick_next": "Next",
    "cloud_error": "The OUTSCALE Cloud could not be asked: {message}",
    "sent_for_approval": "Request #{id} was sent to the release managers of product {code}.",
    "request_publish": "*{user}* asks to publish a new version of *{name}* "
    "(product code `{code}`) · request #{id}",
    "request_unpublish": "*{user}* asks to unpublish version `{version}` ({software}) of "
    "*{name}* (product code `{code}`) · request #{id}",
    "request_unpublish_product": "*{user}* asks to unpublish *every version* of *{name}* "
    "(product code `{code}`) · request #{id}",
    "changes_title": "*Changes since version {id}*",
    "changes_none": "No change in software version, operating system, software base or "
    "instructions since version {id}.",
    "changes_first": "First version of this product.",
    # The Preview of a request, before a decision.
    "preview": "Preview",
    "preview_title": "Preview",
    "preview_lead": "*Request #{id}* · {name} (`{code}`): what an approval now sends and does.",
    "preview_form": "*Version form*",
    "preview_versions": "*Versions unpublished*",
    "preview_version_line": "• `{id}` {software} · {status} · OMI copy `{copy}`",
    "preview_when": "Unpublished on *{date}* (UTC); subscribers are told at approval.",
    "preview_cloud": "*Cloud work*",
    "cloud_grant": "• The seller account `{seller}` lets `{dist}` launch `{omi}` (1 "
    "`UpdateImage` call).",
    "cloud_copy": "• Copy `{omi}`{name} from the seller account `{seller}` into the "
    "distribution account `{dist}`.",
    "cloud_public": "• Make the copy public (1 `UpdateImage` call): the product is free or BYOL.",
    "cloud_share": "• Share the copy with {accounts} subscriber account(s) in {calls} "
    "`UpdateImage` call(s), up to {batch} accounts a call.",
    "cloud_share_none": "• Share the copy with nobody: the product has no subscriber yet.",
    "cloud_delete": "• Delete the OMI copy `{copy}` of version `{id}` {when}; VMs already "
    "running keep running.",
    "cloud_delete_none": "• Nothing to delete: no OMI copy is left.",
    "cloud_now": "at once",
    "cloud_on": "on {date}",
    "cloud_dist": "the distribution account",
    "preview_reach": "*Who receives it*: {accounts} subscriber account(s), {recipients} mail "
    "recipient(s), {channels} Slack channel(s)",
    "preview_org": "• *{name}* ({lang}): {accounts} account(s), {addresses} address(es), "
    "{channels} channel(s)",
    "preview_nobody": "Nobody: the product has no subscriber.",
    "preview_recipients": "Show the recipients",
    "recipients_title": "Recipients",
    "recipients_org": "*{name}* ({lang})\n*Accounts*: {accounts}\n*Mail*: {addresses}\n"
    "*Channels*: {channels}",
    "preview_more": "… and {n} more not shown.",
    "preview_mail": "*Mail ({lang})* · to {n} recipient(s)\n*Subject*: {subject}",
    "preview_announcement": "*Slack announcement ({lang})* · to {n} channel(s), as it will look:",
    "preview_ids": "`{version}` stands for the version's ID, given at approval, and `{copy}` "
    "for the OMI copy's, given when the copy is made.",
    "change_line": "• {field}: {old} → {new}",
    "impact": "*Impact*: {accounts} subscriber account(s), {recipients} mail recipient(s).",
    "approve": "Approve",
    "reject": "Reject",
    "approved_by": ":white_check_mark: Approved by {user}.",
    "rejected_by": ":no_entry: Rejected by {user}: {reason}",
    "failed_by": ":warning: Approved by {user} but refused: {reason}",
    "confirm_title": "OMI copy",
    "confirm_publish": "A copy of OMI *{omi}* will be created for product code `{code}` "
    "and given to {who}.",
    "who_everyone": "everyone (the copy is public for this product)",
    "who_accounts": "{n} subscriber account(s)",
    "proceed_publish": "Proceed with publication",
    "confirm_unpublish": "This deletes OMI copy {copy} of version `{version}` from the "
    "OUTSCALE Cloud; running VMs keep running. Subscribers and organization administrators "
    "are told by email.",
    "confirm_unpublish_product": "This unpublishes all {n} published version(s) of product "
    "`{code}` and deletes their OMI copies ({copies}) from the OUTSCALE Cloud; running VMs "
    "keep running. Subscribers and organization administrators are told by email.",
    "proceed_unpublish": "Unpublish",
    "unpublish_title": "Unpublish",
    "refused_title": "Not done",
    "reject_title": "Reject request",
    "reject_reason": "Reason",
    "reject_submit": "Reject",
    "told_approved_publish": "Your request #{id} was approved by {user}: version {version} "
    "of product {code} is being published.",
    "told_approved_unpublish": "Your request #{id} was approved by {user}: product {code} "
    "is being unpublished.",
    "told_rejected": "Your request #{id} for product {code} was rejected by {user}: {reason}",
    "modified": "Version {id} modified: {fields}.",
    "modified_nothing": "Version {id}: nothing changed.",
    "version_title": "*Version `{id}`* of {name} · product code `{code}`",
    "version_facts": "{status} · software version {software} · OMI {omi} · OMI copy {copy}",
    "version_text": "Version {id} and its history",
    "history_title": "*History*",
    "history_empty": "Nothing on record yet.",
    "history_earlier": "{n} earlier event(s): `omi-bot audit list --version {id}`",
    "history_line": "{date} · *{kind}* · {who}{detail}",
    "history_system": "omi-bot",
    "history_reason": "reason: {text}",
    "history_date": "on {date}",
    "history_recipients": "{n} recipient(s)",
    "history_sent": "{n} sent",
    "history_days_left": "{n} day(s) before",
    "audit_request.created": "Requested",
    "audit_request.approved": "Approved",
    "audit_request.rejected": "Rejected",
    "audit_request.failed": "Approved but refused",
    "audit_version.publishing": "Publication started",
    "audit_version.published": "Published",
    "audit_version.failed": "Publication failed",
    "audit_version.modified": "Modified",
    "audit_version.unpublished": "Unpublished",
    "audit_copy.deleted": "OMI copy deleted",
    "audit_version.broken": "Broken",
    "audit_schedule.created": "Unpublication scheduled",
    "audit_schedule.cancelled": "Unpublication cancelled",
    "audit_schedule.reminder": "Reminder sent",
    "audit_schedule.blocked": "Blocked by R7",
    "audit_schedule.done": "Schedule ended",
    "audit_notice.queued": "Notice queued",
    "audit_notice.sent": "Notice sent",
    "audit_notice.failed": "Notice failed",
    "audit_drift.repair_asked": "Repair asked",
    "audit_drift.repaired": "Drift repaired",
}

FR: dict[str, str] = {
    "help": (
        "*omi-bot* gère les versions de vos produits OMI.\n"
        "• `/omi publish [CODE_PRODUIT]` : ouvrir le formulaire de version et demander la "
        "publication\n"
        "• `/omi modify ID_VERSION` : modifier une version publiée\n"
        "• `/omi unpublish ID_VERSION` : demander la dépublication d'une version, à une date "
        "ou tout de suite\n"
        "• `/omi unpublish-product CODE_PRODUIT` : demander la dépublication de toutes les "
        "versions d'un produit\n"
        "• `/omi versions CODE_PRODUIT` : le tableau des versions\n"
        "• `/omi version ID_VERSION` : une version et son historique\n"
        "• `/omi products` : vos produits\n"
        "• `/omi help` : cette aide"
    ),
    "failed": "Un problème est survenu de notre côté ; rien n'a été modifié. Réessayez dans un "
    "instant.",
    "database_down": "omi-bot ne peut pas joindre sa base de données pour le moment ; rien n'a "
    "été fait. Réessayez dans une minute.",
    "no_products": "Il n'y a encore aucun produit.",
    "products_title": "*Produits*",
    "product_line": "*{name}* · product code `{code}` · dernière version disponible : {last} · "
    "modifié le {date}",
    "none": "aucune",
    "versions_title": "*Versions de {name}* · product code `{code}`",
    "versions_header": "ID · version du logiciel · date de modification · statut · copie de l'OMI",
    "version_line": "`{id}` · {software} · {date} · {status} · {copy}",
    "versions_more": "… {n} de plus",
    "versions_empty": "Aucune version pour l'instant.",
    "status_publishing": "en publication",
    "status_published": "publiée",
    "status_failed": "échec",
    "status_unpublished": "dépubliée",
    "status_broken": "cassée",
    "schedule_on": "dépubliée le {date}",
    "schedule_blocked": "bloquée par R7",
    "when_label": "Quand",
    "when_now": "Maintenant",
    "when_date": "À une date",
    "date_label": "Date de dépublication (UTC)",
    "date_hint": "Les souscripteurs ont {n} jours de préavis : le {date} au plus tôt. Un rappel "
    "leur est envoyé {reminders} jour(s) avant.",
    "date_needed": "Choisissez une date.",
    "unpublish_what_version": "Dépublier la version `{id}` ({software}) de *{name}* (product "
    "code `{code}`).",
    "unpublish_what_product": "Dépublier *toutes les versions* de *{name}* (product code "
    "`{code}`).",
    "unpublish_submit": "Demander l'approbation",
    "request_on": ":calendar: À dépublier le *{date}* (UTC), si la demande est approuvée.",
    "confirm_schedule": "Cela planifie la dépublication de {what} le *{date}* (UTC). Les "
    "souscripteurs et administrateurs de l'organisation sont avertis maintenant, puis "
    "{reminders} jour(s) avant ; à cette date, la copie de l'OMI est supprimée du Cloud "
    "OUTSCALE, et les VM en cours continuent de fonctionner.",
    "what_version": "la version `{id}`",
    "what_product": "toutes les versions du produit `{code}`",
    "proceed_schedule": "Planifier",
    "told_approved_schedule": "Votre demande n°{id} a été approuvée par {user} : la "
    "dépublication de {what} est prévue le {date}.",
    "cancelled_by": ":no_entry_sign: Dépublication annulée par {user}.",
    "repair_queued": ":wrench: Réparation du produit {code} demandée par {user} : {n} "
    "tâche(s) en file.",
    "repair_nothing": "Rien de nouveau à réparer sur le produit {code} : ses écarts sont "
    "réparés ou en cours de réparation.",
    "loading_title": "omi-bot",
    "loading": ":hourglass_flowing_sand:",
    "checking": ":hourglass_flowing_sand: Vérification de l'OMI {omi} auprès du Cloud "
    "OUTSCALE…",
    "saving": ":hourglass_flowing_sand: Enregistrement de la version {id}…",
    "approving": ":hourglass_flowing_sand: Approbation de la demande n°{id}…",
    "rejecting": ":hourglass_flowing_sand: Refus de la demande n°{id}…",
    "done_title": "Effectué",
    "form_error": ":warning: {message}",
    "approved_publish": "La demande n°{id} est approuvée : la version {version} du produit "
    "{code} est en cours de publication. Son avancement est publié dans le fil de la demande.",
    "approved_schedule": "La demande n°{id} est approuvée : la dépublication de {what} est "
    "prévue le {date}.",
    "approved_unpublish": "La demande n°{id} est approuvée : le produit {code} est en cours de "
    "dépublication.",
    "rejected": "La demande n°{id} pour le produit {code} est refusée : {reason}",
    "form_title_publish": "Formulaire de version",
    "form_title_modify": "Modifier la version",
    "form_submit_publish": "Publier",
    "form_submit_modify": "Enregistrer",
    "cancel": "Annuler",
    "close": "Fermer",
    "form_product": "Produit *{name}* · product code `{code}`",
    "form_version": "Version `{id}` · product code `{code}`",
    "field_omi": "Nom ou ID de l'OMI",
    "field_omi_hint": "Seules les OMI disponibles du compte vendeur portant le product code "
    "{code}.",
    "field_omi_readonly": "*OMI* (non modifiable une fois publiée) : {name} (`{id}`) · copie "
    "de l'OMI {copy}",
    "field_software_version": "Version du logiciel",
    "field_operating_system": "Système d'exploitation",
    "field_software_base": "Base logicielle",
    "field_software_base_hint": "Un élément par ligne.",
    "field_release_note": "Note de release",
    "field_instructions": "Instructions d'utilisation",
    "pick_title": "Publier une version",
    "pick_product": "Produit",
    "pick_next": "Suivant",
    "cloud_error": "Le Cloud OUTSCALE n'a pas pu être interrogé : {message}",
    "sent_for_approval": "La demande n°{id} a été envoyée aux responsables de release du "
    "produit {code}.",
    "request_publish": "*{user}* demande la publication d'une nouvelle version de *{name}* "
    "(product code `{code}`) · demande n°{id}",
    "request_unpublish": "*{user}* demande la dépublication de la version `{version}` "
    "({software}) de *{name}* (product code `{code}`) · demande n°{id}",
    "request_unpublish_product": "*{user}* demande la dépublication de *toutes les versions* "
    "de *{name}* (product code `{code}`) · demande n°{id}",
    "changes_title": "*Modifications depuis la version {id}*",
    "changes_none": "Aucune modification de version du logiciel, système d'exploitation, base "
    "logicielle ou instructions depuis la version {id}.",
    "changes_first": "Première version de ce produit.",
    "preview": "Aperçu",
    "preview_title": "Aperçu",
    "preview_lead": "*Demande n°{id}* · {name} (`{code}`) : ce qu'une approbation maintenant "
    "envoie et fait.",
    "preview_form": "*Formulaire de version*",
    "preview_versions": "*Versions dépubliées*",
    "preview_version_line": "• `{id}` {software} · {status} · copie de l'OMI `{copy}`",
    "preview_when": "Dépubliée le *{date}* (UTC) ; les souscripteurs sont avertis à "
    "l'approbation.",
    "preview_cloud": "*Travail dans le cloud*",
    "cloud_grant": "• Le compte vendeur `{seller}` autorise `{dist}` à lancer `{omi}` (1 appel "
    "`UpdateImage`).",
    "cloud_copy": "• Copier `{omi}`{name} du compte vendeur `{seller}` vers le compte de "
    "distribution `{dist}`.",
    "cloud_public": "• Rendre la copie publique (1 appel `UpdateImage`) : le produit est gratuit "
    "ou BYOL.",
    "cloud_share": "• Partager la copie avec {accounts} compte(s) souscripteur(s) en {calls} "
    "appel(s) `UpdateImage`, {batch} comptes au plus par appel.",
    "cloud_share_none": "• Ne partager la copie avec personne : le produit n'a pas encore de "
    "souscripteur.",
    "cloud_delete": "• Supprimer la copie de l'OMI `{copy}` de la version `{id}` {when} ; les VM "
    "déjà lancées continuent de fonctionner.",
    "cloud_delete_none": "• Rien à supprimer : aucune copie de l'OMI ne reste.",
    "cloud_now": "immédiatement",
    "cloud_on": "le {date}",
    "cloud_dist": "le compte de distribution",
    "preview_reach": "*Destinataires* : {accounts} compte(s) souscripteur(s), {recipients} "
    "destinataire(s) d'e-mail, {channels} canal(aux) Slack",
    "preview_org": "• *{name}* ({lang}) : {accounts} compte(s), {addresses} adresse(s), "
    "{channels} canal(aux)",
    "preview_nobody": "Personne : le produit n'a pas de souscripteur.",
    "preview_recipients": "Voir les destinataires",
    "recipients_title": "Destinataires",
    "recipients_org": "*{name}* ({lang})\n*Comptes* : {accounts}\n*E-mail* : {addresses}\n"
    "*Canaux* : {channels}",
    "preview_more": "… et {n} de plus, non affichés.",
    "preview_mail": "*E-mail ({lang})* · à {n} destinataire(s)\n*Objet* : {subject}",
    "preview_announcement": "*Annonce Slack ({lang})* · dans {n} canal(aux), telle qu'elle "
    "apparaîtra :",
    "preview_ids": "`{version}` tient lieu de l'ID de la version, donné à l'approbation, et "
    "`{copy}` de celui de la copie de l'OMI, donné quand la copie est faite.",
    "change_line": "• {field} : {old} → {new}",
    "impact": "*Impact* : {accounts} compte(s) souscripteur(s), {recipients} destinataire(s) "
    "d'e-mail.",
    "approve": "Approuver",
    "reject": "Refuser",
    "approved_by": ":white_check_mark: Approuvée par {user}.",
    "rejected_by": ":no_entry: Refusée par {user} : {reason}",
    "failed_by": ":warning: Approuvée par {user} mais refusée : {reason}",
    "confirm_title": "Copie de l'OMI",
    "confirm_publish": "Une copie de l'OMI *{omi}* sera créée pour le product code `{code}` "
    "et donnée à {who}.",
    "who_everyone": "tout le monde (la copie est publique pour ce produit)",
    "who_accounts": "{n} compte(s) souscripteur(s)",
    "proceed_publish": "Lancer la publication",
    "confirm_unpublish": "Cela supprime la copie de l'OMI {copy} de la version `{version}` du "
    "Cloud OUTSCALE ; les VM en cours continuent de fonctionner. Les souscripteurs et "
    "administrateurs de l'organisation sont avertis par e-mail.",
    "confirm_unpublish_product": "Cela dépublie les {n} version(s) publiée(s) du produit "
    "`{code}` et supprime leurs copies d'OMI ({copies}) du Cloud OUTSCALE ; les VM en cours "
    "continuent de fonctionner. Les souscripteurs et administrateurs de l'organisation sont "
    "avertis par e-mail.",
    "proceed_unpublish": "Dépublier",
    "unpublish_title": "Dépublier",
    "refused_title": "Non effectué",
    "reject_title": "Refuser la demande",
    "reject_reason": "Motif",
    "reject_submit": "Refuser",
    "told_approved_publish": "Votre demande n°{id} a été approuvée par {user} : la version "
    "{version} du produit {code} est en cours de publication.",
    "told_approved_unpublish": "Votre demande n°{id} a été approuvée par {user} : le "
    "produit {code} est en cours de dépublication.",
    "told_rejected": "Votre demande n°{id} pour le produit {code} a été refusée par {user} : "
    "{reason}",
    "modified": "Version {id} modifiée : {fields}.",
    "modified_nothing": "Version {id} : rien n'a changé.",
    "version_title": "*Version `{id}`* de {name} · code produit `{code}`",
    "version_facts": "{status} · version du logiciel {software} · OMI {omi} · copie de l'OMI "
    "{copy}",
    "version_text": "La version {id} et son historique",
    "history_title": "*Historique*",
    "history_empty": "Rien d'enregistré pour l'instant.",
    "history_earlier": "{n} événement(s) plus ancien(s) : `omi-bot audit list --version {id}`",
    "history_line": "{date} · *{kind}* · {who}{detail}",
    "history_system": "omi-bot",
    "history_reason": "motif : {text}",
    "history_date": "le {date}",
    "history_recipients": "{n} destinataire(s)",
    "history_sent": "{n} envoyé(s)",
    "history_days_left": "{n} jour(s) avant",
    "audit_request.created": "Demandée",
    "audit_request.approved": "Approuvée",
    "audit_request.rejected": "Refusée",
    "audit_request.failed": "Approuvée mais refusée",
    "audit_version.publishing": "Publication lancée",
    "audit_version.published": "Publiée",
    "audit_version.failed": "Échec de la publication",
    "audit_version.modified": "Modifiée",
    "audit_version.unpublished": "Dépubliée",
    "audit_copy.deleted": "Copie de l'OMI supprimée",
    "audit_version.broken": "Hors d'usage",
    "audit_schedule.created": "Dépublication programmée",
    "audit_schedule.cancelled": "Dépublication annulée",
    "audit_schedule.reminder": "Rappel envoyé",
    "audit_schedule.blocked": "Bloquée par R7",
    "audit_schedule.done": "Programmation terminée",
    "audit_notice.queued": "Avis mis en file",
    "audit_notice.sent": "Avis envoyé",
    "audit_notice.failed": "Échec de l'avis",
    "audit_drift.repair_asked": "Réparation demandée",
    "audit_drift.repaired": "Écart réparé",
}

TEXTS: dict[str, dict[str, str]] = {"en": EN, "fr": FR}


def t(language: str, key: str, **values: object) -> Escaped:
    """The text `key` in `language`, its values escaped for mrkdwn."""
    texts = TEXTS.get(language, EN)
    safe = {k: v if isinstance(v, int) else mrkdwn(v) for k, v in values.items()}
    return Escaped(texts.get(key, EN[key]).format(**safe))


def field_label(language: str, field: str) -> str:
    return t(language, f"field_{field}")
